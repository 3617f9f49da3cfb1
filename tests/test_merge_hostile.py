#!/usr/bin/python3
"""eroot merge of hostile inputs: a block address past an input's own
blocks (a chunk index, a compressed index) is refused by reference and by
copy, never written into a merged image (the kernel would follow it past
the device's tagged blocks or into another input's range); the intact
inputs still merge.  Nothing here is mounted."""
import os
import random
import struct

import eroottest as E


def patch_chunk_past_end(path, out, nid):
    """The flat-plain file at @nid made chunk-based (a block map, one block
    a chunk) whose last chunk lies one block past the image, with a block
    appended there: bytes no device tag covers."""
    data = bytearray(E.read_file(path))
    img = E.Erofs(bytes(data))
    ino = img.inode(nid)
    nblocks = (ino.size + img.bs - 1) // img.bs
    at = (ino.inline_off + 3) & ~3
    assert not any(data[at:at + 4 * nblocks]), 'no room for the block map'
    fmt = struct.unpack_from('<H', data, ino.off)[0]
    struct.pack_into('<H', data, ino.off, (fmt & ~0xe) | (4 << 1))   # chunk-based
    struct.pack_into('<I', data, ino.off + 16, 0)                     # block map, 1 block
    for c in range(nblocks):
        blk = ino.u + c if c < nblocks - 1 else img.blocks
        struct.pack_into('<I', data, at + 4 * c, blk)
    E.write_file(out, bytes(data) + b'Z' * img.bs)


def patch_pcluster_past_end(path, out, nid):
    """The 4th head of the full compressed index at @nid moved one block
    past the image: in a merge, the next input's unified range."""
    data = bytearray(E.read_file(path))
    img = E.Erofs(bytes(data))
    ino = img.inode(nid)
    assert ino.layout == 1, 'compressed-full expected, got layout %d' % ino.layout
    ent = ((ino.inline_off + 7) & ~7) + 8
    heads = 0
    for i in range(1, (ino.size + img.bs - 1) // img.bs):
        e = ent + 8 * i
        if struct.unpack_from('<H', data, e)[0] & 3 != 2:   # not NONHEAD
            heads += 1
            if heads == 4:
                struct.pack_into('<I', data, e + 4, img.blocks + 1)
                E.write_file(out, bytes(data))
                return
    raise AssertionError('fewer than 4 pclusters')


def nid_of(t, image, path):
    res = E.eroot('stat', image, path)
    if not E.must(t, res, 'eroot stat %s' % path):
        return None
    return int(res.out.decode().split('nid:')[1].split()[0])


def main():
    t = E.Checker('merge-hostile')
    work = E.scratch('merge-hostile')
    plain, comp, upper = (os.path.join(work, d) for d in ('plain', 'comp', 'upper'))
    for d in (plain, comp, upper):
        os.makedirs(d)
    E.write_file(os.path.join(plain, 'victim'), b'A' * 4608)
    rnd = random.Random(1)
    E.write_file(os.path.join(comp, 'big'),
                 b''.join(b'word%d ' % rnd.randrange(50) for _ in range(3000)))
    E.write_file(os.path.join(upper, 'other'), b'S' * 600)
    imgs = {}
    for name, tree, opts in (('plain', plain, []), ('comp', comp, ['-z', 'lz4']),
                             ('upper', upper, [])):
        imgs[name] = os.path.join(work, name + '.erofs')
        E.mkfs(t, imgs[name], tree, '-b', '512', '-T', '0', *opts)

    bad_chunk = os.path.join(work, 'bad-chunk.erofs')
    patch_chunk_past_end(imgs['plain'], bad_chunk, nid_of(t, imgs['plain'], '/victim'))
    bad_zmap = os.path.join(work, 'bad-zmap.erofs')
    patch_pcluster_past_end(imgs['comp'], bad_zmap, nid_of(t, imgs['comp'], '/big'))

    for what, inputs in (('a chunk past the input', [bad_chunk]),
                         ('a pcluster past the input', [bad_zmap, imgs['upper']])):
        for copy in ([], ['--copy']):
            out = os.path.join(work, 'out.erofs')
            if os.path.exists(out):
                os.unlink(out)
            res = E.eroot('merge', *copy, out, *inputs)
            label = '%s%s' % (what, ' (--copy)' if copy else '')
            E.sane_failure(t, res, label + ': refused', 3, command='merge')
            t.check('beyond the image' in res.err.decode(),
                    label + ': the refusal says where', res.err.decode())
            t.check(not os.path.exists(out), label + ': no OUT')

    # the intact inputs merge, and eroot's reader reads the union
    out = os.path.join(work, 'good.erofs')
    if E.must(t, E.eroot('merge', '-q', out, imgs['comp'], imgs['upper']), 'intact inputs merge'):
        E.must(t, E.eroot('fsck', '-q', '--device', imgs['comp'], '--device', imgs['upper'], out),
               'eroot fsck reads the merged image with its devices')
    t.exit()


if __name__ == '__main__':
    main()
