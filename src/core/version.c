/* Run-time version queries, matching the generated clgrad_version.h. */
#include "clgrad.h"

unsigned clgrad_version_number(void) { return CLGRAD_VERSION_NUMBER; }
const char *clgrad_version_string(void) { return CLGRAD_VERSION_STRING; }
