// SPDX-License-Identifier: MIT
/*
 * A deliberate bug per argument, so test_sanitizers.py can see that the
 * test build really catches them: "heap" reads past a malloc'd block (ASan),
 * "leak" loses a block (LeakSanitizer), "shift" shifts a 1 past the sign
 * bit (UBSan).  Built with the same options as every other test binary.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	volatile int n = argc + 30;

	if (argc != 2)
		return 2;
	if (!strcmp(argv[1], "heap")) {
		/* a size the compiler cannot see, so only ASan can tell */
		char *p = malloc((size_t)n - 23);

		p[n - 23] = 1;	/* one past the end */
		printf("%d\n", p[0]);
		free(p);
	} else if (!strcmp(argv[1], "leak")) {
		char *volatile p = malloc(64);

		p[0] = 1;
		p = NULL;
	} else if (!strcmp(argv[1], "shift")) {
		printf("%d\n", 1 << n);	/* n == 32: undefined */
	} else {
		return 2;
	}
	return 0;
}
