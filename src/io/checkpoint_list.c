/* Listing the tensors of a checkpoint (any safetensors file): names, dtypes and shapes, so a
 * tool can learn the sizes of the network a checkpoint holds before building it. */
#include "core/core.h"
#include "io/io.h"

#include <stdlib.h>
#include <string.h>

CLGRAD_API clgrad_status clgrad_checkpoint_list(const char *path, clgrad_checkpoint_tensor **out, int *n)
{
    if (out) *out = NULL;
    if (n) *n = 0;
    CLGRAD_CHECK_ARG(NULL, path && path[0] && out && n, "path, out and n must not be NULL");
    clgrad__st_file *f = NULL;
    CLGRAD_TRY(clgrad__st_load(path, &f));
    size_t count = clgrad__st_count(f), names = 0;
    for (size_t i = 0; i < count; i++) names += strlen(clgrad__st_entry_at(f, i)->name) + 1;
    /* one block: the entries, then their names */
    clgrad_checkpoint_tensor *list = calloc(1, (count + 1) * sizeof *list + names);
    if (!list) {
        clgrad__st_free(f);
        return clgrad__fail(NULL, CLGRAD_ERR_HOST_MEMORY, "%s: out of host memory", path);
    }
    char *pool = (char *)(list + count + 1);
    for (size_t i = 0; i < count; i++) {
        const clgrad__st_entry *e = clgrad__st_entry_at(f, i);
        size_t len = strlen(e->name) + 1;
        memcpy(pool, e->name, len);
        list[i].name = pool;
        pool += len;
        list[i].dtype = clgrad__st_dtype_name(e->dtype);
        list[i].ndim = e->ndim;
        memcpy(list[i].shape, e->shape, sizeof list[i].shape);
    }
    clgrad__st_free(f);
    *out = list;
    *n = (int)count;
    return CLGRAD_OK;
}

CLGRAD_API void clgrad_checkpoint_list_free(clgrad_checkpoint_tensor *list) { free(list); }
