/* Numbers as text in files, independent of the program's locale: a program that called
 * setlocale(LC_ALL, "de_DE.UTF-8") must still write "0.001" (not "0,001") into a
 * checkpoint, and read back files written anywhere. Each call uses a C locale object of its
 * own on the calling thread only (uselocale), so other threads and the program's locale
 * are never touched. */
#include "core/core.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#ifdef _WIN32
#include <locale.h>

int clgrad__snprintf_c(char *buf, size_t cap, const char *fmt, ...)
{
    _locale_t c = _create_locale(LC_NUMERIC, "C");
    va_list ap;
    va_start(ap, fmt);
    int n = c ? _vsnprintf_s_l(buf, cap, _TRUNCATE, fmt, c, ap) : -1;
    va_end(ap);
    if (c) _free_locale(c);
    return n;
}

double clgrad__strtod_c(const char *s, char **end)
{
    _locale_t c = _create_locale(LC_NUMERIC, "C");
    double v = c ? _strtod_l(s, end, c) : strtod(s, end);
    if (c) _free_locale(c);
    return v;
}
#else
#include <locale.h>
#if defined(__APPLE__)
#include <xlocale.h>
#endif

/* Switches the calling thread to a fresh C locale; *old is what to switch back to. */
static locale_t enter_c(locale_t *old)
{
    locale_t c = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    *old = c ? uselocale(c) : (locale_t)0;
    return c;
}

static void leave_c(locale_t c, locale_t old)
{
    if (!c) return;
    uselocale(old);
    freelocale(c);
}

int clgrad__snprintf_c(char *buf, size_t cap, const char *fmt, ...)
{
    locale_t old, c = enter_c(&old);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, cap, fmt, ap); /* without a C locale object: the program's (best effort) */
    va_end(ap);
    leave_c(c, old);
    return n;
}

double clgrad__strtod_c(const char *s, char **end)
{
    locale_t old, c = enter_c(&old);
    double v = strtod(s, end);
    leave_c(c, old);
    return v;
}
#endif
