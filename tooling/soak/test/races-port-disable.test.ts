/**
 * Race on the virtual clock over seeded interleavings (issue 9): port disable during I/O (nvmet_disable_port, 6.6 nvmet_port_del_ctrls, nvmet_rdma_remove_port). Each interleaving: no
 * exception, every I/O completes exactly once (lost only with its connection), acknowledged
 * writes read back intact, nothing leaks, every error line is the kernel's.
 */
import { raceSuite } from './race-suite';

raceSuite('port-disable-during-io');
