/* PAGEMAP_SCAN (Linux 6.7) on /proc/PID/pagemap, and the uffd-wp features it pairs with; the
 * Debian 12 headers predate both. memory.c picks the pages worth keeping with it, precopy.c the
 * pages a running process wrote since they were copied. */
#ifndef CKPT_PAGEMAP_SCAN_H
#define CKPT_PAGEMAP_SCAN_H

#include <stdint.h>
#include <sys/ioctl.h>

struct pm_scan_arg {
	uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
	uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
struct page_region {
	uint64_t start, end, categories;
};
#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#define PM_SCAN_WP_MATCHING (1 << 0) /* write-protect the pages it reports, as it reports them */
#define PAGE_IS_WRITTEN (1 << 1) /* no uffd-wp bit: written since it was write-protected */
#define PAGE_IS_FILE (1 << 2)
#define PAGE_IS_PRESENT (1 << 3)
#define PAGE_IS_SWAPPED (1 << 4)
#define PAGE_IS_PFNZERO (1 << 5)

#define UFFD_FEATURE_WP_ASYNC_ (1u << 15)       /* Linux 6.7: the kernel resolves the faults itself */

#endif
