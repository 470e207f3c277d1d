/* Device ranking and selector parsing. Pure functions over clgrad_device_info lists, so
 * the tests can drive them with made-up devices and no OpenCL runtime. */
#include "device/device.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double clgrad__device_score(const clgrad_device_info *d)
{
    if (!d->available || !d->compiler_available) return -1.0;
    static const double kind_weight[] = {4e12, 3e12, 2e12, 1e12, 0.0};
    int k = (d->kind >= 0 && d->kind <= CLGRAD_DEVICE_KIND_OTHER) ? (int)d->kind : CLGRAD_DEVICE_KIND_OTHER;
    /* compute units x clock stays far below 1e12, so kind always dominates */
    return kind_weight[k] + (double)d->compute_units * (double)(d->clock_mhz > 0 ? d->clock_mhz : 1);
}

static int icontains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    if (n == 0) return 1;
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] && tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i])) i++;
        if (i == n) return 1;
    }
    return 0;
}

static int ieq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return 0;
    return *a == *b;
}

static const char *kind_name(clgrad_device_kind k)
{
    switch (k) {
    case CLGRAD_DEVICE_KIND_GPU_DISCRETE: return "gpu";
    case CLGRAD_DEVICE_KIND_GPU_INTEGRATED: return "gpu (integrated)";
    case CLGRAD_DEVICE_KIND_ACCELERATOR: return "accelerator";
    case CLGRAD_DEVICE_KIND_CPU: return "cpu";
    default: return "other";
    }
}

/* Parses "p:d"; returns 1 on success. */
static int parse_index_pair(const char *s, int *p, int *d)
{
    char *end;
    long a, b;
    if (!isdigit((unsigned char)*s)) return 0;
    a = strtol(s, &end, 10);
    if (*end != ':' || !isdigit((unsigned char)end[1])) return 0;
    b = strtol(end + 1, &end, 10);
    if (*end != '\0' || a > 1000000 || b > 1000000) return 0;
    *p = (int)a;
    *d = (int)b;
    return 1;
}

static clgrad_status no_match(const clgrad_device_info *list, int n, const char *selector)
{
    char msg[CLGRAD__ERRMSG_CAP];
    size_t len = (size_t)snprintf(msg, sizeof msg, "no usable OpenCL device matches \"%s\"; devices:",
                                  selector ? selector : "");
    if (n == 0) len += (size_t)snprintf(msg + len, sizeof msg - len, " (none)");
    for (int i = 0; i < n && len < sizeof msg; i++)
        len += (size_t)snprintf(msg + len, sizeof msg - len, "\n  %d:%d  %s / %s (%s%s)", list[i].platform_index,
                                list[i].device_index, list[i].platform_name, list[i].name,
                                kind_name(list[i].kind),
                                clgrad__device_score(&list[i]) < 0 ? ", unusable" : "");
    return clgrad__fail(NULL, CLGRAD_ERR_NO_DEVICE, "%s", msg);
}

clgrad_status clgrad_devices_select(const clgrad_device_info *list, int n, const char *selector, int *index)
{
    if (!index || (n > 0 && !list) || n < 0)
        return clgrad__fail(NULL, CLGRAD_ERR_INVALID_ARG, "clgrad_devices_select: list, n or index is invalid");
    *index = -1;
    int want_kind = -1, p = -1, d = -1;
    const char *substring = NULL;
    if (selector && *selector) {
        if (ieq(selector, "gpu")) want_kind = 0;
        else if (ieq(selector, "cpu")) want_kind = CLGRAD_DEVICE_KIND_CPU;
        else if (ieq(selector, "accel") || ieq(selector, "accelerator")) want_kind = CLGRAD_DEVICE_KIND_ACCELERATOR;
        else if (!parse_index_pair(selector, &p, &d)) substring = selector;
    }
    int best = -1;
    double best_score = -1.0;
    for (int i = 0; i < n; i++) {
        const clgrad_device_info *di = &list[i];
        double sc = clgrad__device_score(di);
        if (sc < 0) continue;
        if (want_kind == 0 && di->kind != CLGRAD_DEVICE_KIND_GPU_DISCRETE &&
            di->kind != CLGRAD_DEVICE_KIND_GPU_INTEGRATED)
            continue;
        if (want_kind > 0 && (int)di->kind != want_kind) continue;
        if (p >= 0 && (di->platform_index != p || di->device_index != d)) continue;
        if (substring && !icontains(di->name, substring) && !icontains(di->platform_name, substring) &&
            !icontains(di->vendor, substring))
            continue;
        if (sc > best_score) {
            best = i;
            best_score = sc;
        }
    }
    if (best < 0) return no_match(list, n, selector);
    *index = best;
    return CLGRAD_OK;
}
