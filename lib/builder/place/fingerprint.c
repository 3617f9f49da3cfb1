// SPDX-License-Identifier: MIT
/*
 * --fingerprint: the SHA-256 of each regular file's content, for its
 * fingerprint xattr (tree/fingerprint.c).  Flat files are hashed as they
 * are copied, and -E dedupe's digest of a flat file is that SHA-256
 * already; compressed, packed and sparse files are read once more, whole,
 * in order (their bytes reach the image out of order, from worker
 * threads, or not at all).  eroot merge: a file referred to in an input
 * image without fingerprints is read from that image.
 */
#include <openssl/evp.h>

#include "builder/builder.h"
#include "builder/tree/tree.h"
#include "builder/place/place.h"

int fp_start(struct copy *c)
{
	if (!c->fp_md && !(c->fp_md = EVP_MD_CTX_new()))
		return BFAIL(c->b, -ENOMEM, "out of memory");
	if (!EVP_DigestInit_ex(c->fp_md, EVP_sha256(), NULL))
		return BFAIL(c->b, -ENOMEM, "no SHA-256");
	c->fp_on = true;
	return 0;
}

void fp_update(struct copy *c, const void *data, size_t len)
{
	if (c->fp_on)
		EVP_DigestUpdate(c->fp_md, data, len);
}

void fp_finish(struct copy *c, struct bnode *n)
{
	unsigned int len;

	EVP_DigestFinal_ex(c->fp_md, n->fp_digest, &len);
	c->fp_on = false;
	n->fp_done = true;
}

int fp_read_file(struct copy *c, struct bnode *n)
{
	int err = fp_start(c);

	for (uint64_t off = 0; !err && off < n->size; ) {
		size_t piece = n->size - off < COPY_BUF ? (size_t)(n->size - off) : COPY_BUF;

		err = read_source(c, off, c->buf, piece);
		if (!err)
			fp_update(c, c->buf, piece);
		off += piece;
	}
	if (!err)
		fp_finish(c, n);
	c->fp_on = false;
	return err;
}

int fp_read_ref(struct copy *c, struct bnode *n)
{
	struct eroot_image *img = c->b->images[n->layer - 1];
	struct eroot_inode ino;
	int err = eroot_lookup(img, n->src_path, &ino);

	if (err)
		return BFAIL(c->b, err, "%s: %s", n->src_path, eroot_image_errmsg(img));
	err = fp_start(c);
	for (uint64_t off = 0; !err && off < n->size; ) {
		size_t piece = n->size - off < COPY_BUF ? (size_t)(n->size - off) : COPY_BUF;
		ssize_t got = eroot_pread(img, &ino, c->buf, piece, off);

		if (got <= 0) {
			err = BFAIL(c->b, got ? (int)got : -EIO, "%s: %s", n->src_path,
				    got ? eroot_image_errmsg(img) : "shorter than its size");
		} else {
			fp_update(c, c->buf, (size_t)got);
			off += (uint64_t)got;
		}
	}
	if (!err)
		fp_finish(c, n);
	c->fp_on = false;
	return err;
}

void fp_free(struct copy *c)
{
	EVP_MD_CTX_free(c->fp_md);
	c->fp_md = NULL;
}
