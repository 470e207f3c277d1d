/* The MPI transport when the library is built without MPI (meson option -Dmpi=disabled, or
 * no MPI found): clgrad_dist_mpi_create says so. In-process groups work all the same. */
#include "dist/dist.h"

int clgrad__dist_mpi_built(void) { return 0; }

clgrad_status clgrad__dist_mpi_transport(const void *comm, clgrad__transport **out)
{
    (void)comm;
    *out = NULL;
    return clgrad__fail(NULL, CLGRAD_ERR_UNSUPPORTED,
                        "clgrad_dist_mpi_create: this clgrad was built without MPI (install an MPI such as Debian's "
                        "libopenmpi-dev and rebuild; meson option -Dmpi)");
}
