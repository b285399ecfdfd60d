/* A C implementation built with AddressSanitizer that overflows a buffer on every
 * document: the sanitizer's report on stderr and exit 1, after an `error:` line of its
 * own when CRASH_SAYS_ERROR=1. Exit 1 + `error:` is the rejection form, so only the
 * sanitizer's signature tells the crash apart. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    FILE *file = fopen(argc > 1 ? argv[1] : "", "rb");
    if (file == NULL) {
        return 3;
    }
    int *cells = malloc(4 * sizeof(int));
    const char *says = getenv("CRASH_SAYS_ERROR");
    if (says != NULL && strcmp(says, "1") == 0) {
        fprintf(stderr, "error: cannot convert %s\n", argv[1]);
        fflush(stderr);
    }
    int cell = cells[fgetc(file) + 8];
    fclose(file);
    printf("-numa node,nodeid=%d\n", cell);
    return 0;
}
