/**
 * Controller quirks: flags the PCI ID table attaches to specific devices (`driver_data`), as in
 * Linux 4.16 plus the seed's patch 09. Only some change the model's behaviour:
 * `NVME_QUIRK_PSEUDO_CMB_BAR4` (the CMB is synthesised from BAR 4), `NVME_QUIRK_IDENTIFY_CNS`
 * (namespaces are scanned one by one instead of with the active list), and
 * `NVME_QUIRK_DELAY_BEFORE_CHK_RDY` (logged as a delay; the model's controller is ready at
 * once). The rest are carried as data.
 *
 * Upstream note: the pseudo-CMB quirk was never merged. Linux 4.17 gave bit 7 to
 * `NVME_QUIRK_MEDIUM_PRIO_SQ`, so the seed's value would collide today; the model keeps the
 * seed's flag under both policies (DESIGN 3.3).
 *
 * @kernel drivers/nvme/host/nvme.h (enum nvme_quirks) + seed patch 09/10
 */

/** Use the controller's stripe size as the block layer's chunk size. @kernel NVME_QUIRK_STRIPE_SIZE */
export const NVME_QUIRK_STRIPE_SIZE = 1 << 0;
/** Identify CNS 1 (and the active namespace list) is not supported. @kernel NVME_QUIRK_IDENTIFY_CNS */
export const NVME_QUIRK_IDENTIFY_CNS = 1 << 1;
/** Deallocated blocks read as zeroes. @kernel NVME_QUIRK_DEALLOCATE_ZEROES */
export const NVME_QUIRK_DEALLOCATE_ZEROES = 1 << 2;
/** Wait 2 s after toggling CC.EN before reading CSTS.RDY. @kernel NVME_QUIRK_DELAY_BEFORE_CHK_RDY */
export const NVME_QUIRK_DELAY_BEFORE_CHK_RDY = 1 << 3;
/** Autonomous power state transitions do not work. @kernel NVME_QUIRK_NO_APST */
export const NVME_QUIRK_NO_APST = 1 << 4;
/** The deepest power state must not be used. @kernel NVME_QUIRK_NO_DEEPEST_PS */
export const NVME_QUIRK_NO_DEEPEST_PS = 1 << 5;
/** Supports the LightNVM command set. @kernel NVME_QUIRK_LIGHTNVM */
export const NVME_QUIRK_LIGHTNVM = 1 << 6;
/**
 * CMB-like memory on BAR 4 without CMBLOC/CMBSZ (seed patch 09: Microsemi NVRAM, Everspin
 * nvNitro). @kernel NVME_QUIRK_PSEUDO_CMB_BAR4
 */
export const NVME_QUIRK_PSEUDO_CMB_BAR4 = 1 << 7;

/** Quirk names by bit, for logs and reports. */
export const NVME_QUIRK_NAMES: readonly (readonly [number, string])[] = [
  [NVME_QUIRK_STRIPE_SIZE, 'NVME_QUIRK_STRIPE_SIZE'],
  [NVME_QUIRK_IDENTIFY_CNS, 'NVME_QUIRK_IDENTIFY_CNS'],
  [NVME_QUIRK_DEALLOCATE_ZEROES, 'NVME_QUIRK_DEALLOCATE_ZEROES'],
  [NVME_QUIRK_DELAY_BEFORE_CHK_RDY, 'NVME_QUIRK_DELAY_BEFORE_CHK_RDY'],
  [NVME_QUIRK_NO_APST, 'NVME_QUIRK_NO_APST'],
  [NVME_QUIRK_NO_DEEPEST_PS, 'NVME_QUIRK_NO_DEEPEST_PS'],
  [NVME_QUIRK_LIGHTNVM, 'NVME_QUIRK_LIGHTNVM'],
  [NVME_QUIRK_PSEUDO_CMB_BAR4, 'NVME_QUIRK_PSEUDO_CMB_BAR4'],
];

/**
 * Names of the quirks set in a mask.
 * @param quirks the mask.
 * @returns the names, lowest bit first.
 */
export function nvmeQuirkNames(quirks: number): string[] {
  return NVME_QUIRK_NAMES.filter(([bit]) => (quirks & bit) !== 0).map(([, n]) => n);
}
