/**
 * Race on the virtual clock over seeded interleavings (issue 9): namespace enable/disable racing controller connect and teardown (nvmet_ns_enable/disable, nvmet_alloc_ctrl, nvmet_ctrl_free). Each interleaving: no
 * exception, every I/O completes exactly once (lost only with its connection), acknowledged
 * writes read back intact, nothing leaks, every error line is the kernel's.
 */
import { raceSuite } from './race-suite';

raceSuite('ns-enable-vs-connect');
