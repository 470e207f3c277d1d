/* The safetensors file layer under checkpoints, the part its reader
 * (safetensors_read.c) and writer (safetensors_write.c) share: the dtype table, byte order
 * and the size of a shape. Layout and the writer's conventions: see src/io/io.h. */
#include "io.h"

#include <string.h>

static const struct {
    const char *name;
    size_t size;
} dtypes[CLGRAD__ST_DTYPE_COUNT] = {
    [CLGRAD__ST_BOOL] = {"BOOL", 1},       [CLGRAD__ST_U8] = {"U8", 1},
    [CLGRAD__ST_I8] = {"I8", 1},           [CLGRAD__ST_F8_E5M2] = {"F8_E5M2", 1},
    [CLGRAD__ST_F8_E4M3] = {"F8_E4M3", 1}, [CLGRAD__ST_I16] = {"I16", 2},
    [CLGRAD__ST_U16] = {"U16", 2},         [CLGRAD__ST_F16] = {"F16", 2},
    [CLGRAD__ST_BF16] = {"BF16", 2},       [CLGRAD__ST_I32] = {"I32", 4},
    [CLGRAD__ST_U32] = {"U32", 4},         [CLGRAD__ST_F32] = {"F32", 4},
    [CLGRAD__ST_I64] = {"I64", 8},         [CLGRAD__ST_U64] = {"U64", 8},
    [CLGRAD__ST_F64] = {"F64", 8},
};

const char *clgrad__st_dtype_name(clgrad__st_dtype dt)
{
    return (unsigned)dt < CLGRAD__ST_DTYPE_COUNT ? dtypes[dt].name : NULL;
}

size_t clgrad__st_dtype_size(clgrad__st_dtype dt)
{
    return (unsigned)dt < CLGRAD__ST_DTYPE_COUNT ? dtypes[dt].size : 0;
}

int clgrad__st_host_is_le(void)
{
    const uint16_t one = 1;
    uint8_t b;
    memcpy(&b, &one, 1);
    return b == 1;
}

void clgrad__st_swap_elems(uint8_t *p, size_t nbytes, size_t esize)
{
    if (esize < 2) return;
    for (size_t i = 0; i + esize <= nbytes; i += esize)
        for (size_t a = 0, b = esize - 1; a < b; a++, b--) {
            uint8_t t = p[i + a];
            p[i + a] = p[i + b];
            p[i + b] = t;
        }
}

int clgrad__st_shape_nbytes(int ndim, const int64_t *shape, size_t esize, size_t *nbytes)
{
    size_t n = esize;
    int zero = 0;
    for (int i = 0; i < ndim; i++) zero |= shape[i] == 0;
    if (zero) {
        *nbytes = 0;
        return 1;
    }
    for (int i = 0; i < ndim; i++) {
        uint64_t d = (uint64_t)shape[i];
        if (d > SIZE_MAX || n > SIZE_MAX / (size_t)d) return 0;
        n *= (size_t)d;
    }
    *nbytes = n;
    return 1;
}
