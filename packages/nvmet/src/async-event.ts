/**
 * Asynchronous events: the host parks Asynchronous Event Request commands on the admin queue;
 * the target completes one per event (namespace changes), newest request first, oldest event
 * first, from a work item (a zero-delay timer on the kernel's clock).
 *
 * @kernel drivers/nvme/target/core.c (nvmet_add_async_event, nvmet_async_event_work,
 *   nvmet_async_events_free), admin-cmd.c (nvmet_execute_async_event)
 */
import type { NvmetCtrl } from './ctrl';
import { nvmeAsyncEventResult } from './nvme-identify';
import { NVME_SC_ASYNC_LIMIT, NVME_SC_DNR, NVME_SC_INTERNAL } from './nvme-status';
import type { NvmetReq } from './req';
import { nvmetReqComplete } from './req';

/** Asynchronous Event Requests a controller holds at most. @kernel NVMET_ASYNC_EVENTS */
export const NVMET_ASYNC_EVENTS = 4;

/**
 * A pending event.
 * @kernel struct nvmet_async_event
 */
export interface NvmetAsyncEvent {
  /** `NVME_AER_TYPE_*`. */
  readonly type: number;
  /** Event information. */
  readonly info: number;
  /** The log page to read, or 0. */
  readonly logPage: number;
}

function scheduleWork(ctrl: NvmetCtrl): void {
  if (ctrl.aenWorkPending) return;
  ctrl.aenWorkPending = true;
  ctrl.target.kernel.clock.schedule(0, () => {
    ctrl.aenWorkPending = false;
    nvmetAsyncEventWork(ctrl);
  });
}

/**
 * Completes parked requests with pending events.
 * @param ctrl the controller.
 * @kernel nvmet_async_event_work
 */
export function nvmetAsyncEventWork(ctrl: NvmetCtrl): void {
  while (ctrl.asyncEvents.length > 0 && ctrl.asyncEventCmds.length > 0) {
    const aen = ctrl.asyncEvents.shift()!;
    const req = ctrl.asyncEventCmds.pop()!;
    req.cqe.result = nvmeAsyncEventResult(aen.type, aen.info, aen.logPage);
    nvmetReqComplete(req, 0);
  }
}

/**
 * Queues an event for a controller.
 * @param ctrl the controller.
 * @param type `NVME_AER_TYPE_*`.
 * @param info event information.
 * @param logPage the log page to read, or 0.
 * @kernel nvmet_add_async_event
 */
export function nvmetAddAsyncEvent(ctrl: NvmetCtrl, type: number, info: number, logPage: number): void {
  if (ctrl.freed) return;
  ctrl.asyncEvents.push({ type, info, logPage });
  scheduleWork(ctrl);
}

/**
 * Fails every parked request with `INTERNAL|DNR` (the admin queue is going away).
 * @param ctrl the controller.
 * @kernel nvmet_async_events_free
 */
export function nvmetAsyncEventsFree(ctrl: NvmetCtrl): void {
  for (let req = ctrl.asyncEventCmds.pop(); req !== undefined; req = ctrl.asyncEventCmds.pop()) {
    nvmetReqComplete(req, NVME_SC_INTERNAL | NVME_SC_DNR);
  }
}

/**
 * Asynchronous Event Request: parks the request, or fails it with `ASYNC_LIMIT|DNR` when
 * `NVMET_ASYNC_EVENTS` are parked already.
 * @param req the request.
 * @kernel nvmet_execute_async_event
 */
export function nvmetExecuteAsyncEvent(req: NvmetReq): void {
  const ctrl = req.sq.ctrl!;
  if (ctrl.asyncEventCmds.length >= NVMET_ASYNC_EVENTS) {
    nvmetReqComplete(req, NVME_SC_ASYNC_LIMIT | NVME_SC_DNR);
    return;
  }
  ctrl.asyncEventCmds.push(req);
  scheduleWork(ctrl);
}
