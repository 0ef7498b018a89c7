/**
 * Race on the virtual clock over seeded interleavings (issue 9): configfs stores during I/O (device_path, p2pmem/allow_p2pmem, enable, allowed hosts, allow_any_host). Each interleaving: no
 * exception, every I/O completes exactly once (lost only with its connection), acknowledged
 * writes read back intact, nothing leaks, every error line is the kernel's.
 */
import { raceSuite } from './race-suite';

raceSuite('configfs-writes-during-io');
