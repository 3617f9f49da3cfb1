/* SPDX-License-Identifier: MIT */
/* A minimal assertion helper for the unit tests: count, report, exit. */
#ifndef EROOT_TEST_CHECK_H
#define EROOT_TEST_CHECK_H

#include <stdio.h>

static int check_failures;

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
		check_failures++; \
	} \
} while (0)

#define CHECK_EQ(a, b) do { \
	unsigned long long va_ = (unsigned long long)(a), vb_ = (unsigned long long)(b); \
	if (va_ != vb_) { \
		fprintf(stderr, "%s:%d: CHECK failed: %s == %s (0x%llx != 0x%llx)\n", \
			__FILE__, __LINE__, #a, #b, va_, vb_); \
		check_failures++; \
	} \
} while (0)

static inline int check_result(const char *name)
{
	printf("%s: %s\n", name, check_failures ? "FAIL" : "ok");
	return check_failures ? 1 : 0;
}

#endif
