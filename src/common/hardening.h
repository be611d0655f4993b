// Process hardening for programs that hold card data and keys.
#pragma once

namespace triad {

// Sets the core file size limit to zero, soft and hard, for this process and
// the children it starts: a core dump would write every PAN, card balance and
// secret key in memory to disk in clear (PCI DSS 3.2 and 3.4, "core dumps
// where avoidable"). Crashes are still reported on stderr and in the logs.
// Returns false when the limit could not be set (it is then logged by the
// caller, never fatal: the process is as safe as before the call).
bool disable_core_dumps();

}  // namespace triad
