#!/usr/bin/python3
"""--offset: an image embedded at an unaligned offset inside a bigger file is
read exactly like the image alone by ls -R, cat, stat, info, fsck, extract and
the image-manifest tool; a wrong offset is reported as corruption."""
import os

import eroottest as E

OFFSET = 12345


def same_output(t, image, container, args, what):
    plain = E.eroot(*args[:1], image, *args[1:])
    embedded = E.eroot(*args[:1], '--offset=%d' % OFFSET, container, *args[1:])
    if E.must(t, plain, what + ' (plain image)') and \
            E.must(t, embedded, what + ' (at --offset=%d)' % OFFSET):
        t.check(plain.out == embedded.out and plain.out,
                what + ': same output at the offset',
                '%r\nvs\n%r' % (plain.out[:300], embedded.out[:300]))


def main():
    E.require_root()
    t = E.Checker('offset')
    base = E.scratch('offset')
    tree = os.path.join(base, 'tree')
    E.gentree(tree, 'random', 7)
    expected = E.manifest(tree)
    image = os.path.join(base, 'image.erofs')
    if not E.mkfs(t, image, tree):
        t.exit()
    data = E.read_file(image)
    container = os.path.join(base, 'container.bin')
    # Junk around the image: leading bytes that look like nothing, and a
    # tail, so neither end of the file lines up with the image.
    E.write_file(container, os.urandom(OFFSET) + data + os.urandom(7777))

    same_output(t, image, container, ['ls', '-R', '-l'], 'ls -R -l')
    regs = [E.parse_line(l)[0] for l in expected if ' type=reg ' in l and
            '\\' not in l.split(' ', 1)[0]][:6]
    t.check(regs, 'the tree has plainly named regular files')
    for path in regs:
        same_output(t, image, container, ['cat', '/' + path], 'cat /' + path)
        same_output(t, image, container, ['stat', '/' + path], 'stat /' + path)
    same_output(t, image, container, ['info'], 'info')
    same_output(t, image, container, ['info', '--json'], 'info --json')
    res = E.eroot('fsck', '--offset=%d' % OFFSET, container)
    E.must(t, res, 'fsck --offset=%d' % OFFSET)

    res, lines = E.image_manifest(container, offset=OFFSET)
    if E.must(t, res, 'image-manifest --offset=%d' % OFFSET):
        E.same_manifest(t, expected, lines, 'image-manifest at the offset '
                        'shows the tree')
    out = os.path.join(base, 'extracted')
    res = E.eroot('extract', '--offset=%d' % OFFSET, container, out)
    if E.must(t, res, 'extract --offset=%d' % OFFSET):
        E.same_manifest(t, expected, E.manifest(out), 'extract at the offset '
                        'restores the tree')

    for wrong in (OFFSET - 1, OFFSET + 1, 0, OFFSET + 4096):
        res = E.eroot('fsck', '--offset=%d' % wrong, container)
        E.sane_failure(t, res, 'fsck at the wrong offset %d' % wrong, 3,
                       one_line=False, command='fsck')
        res = E.eroot('ls', '--offset=%d' % wrong, container)
        E.sane_failure(t, res, 'ls at the wrong offset %d' % wrong, 3,
                       command='ls')
    res = E.eroot('info', '--offset=%d' % (len(data) + OFFSET + 7777),
                  container)
    E.sane_failure(t, res, 'info at an offset past the end', 3,
                   command='info')
    t.exit()


if __name__ == '__main__':
    main()
