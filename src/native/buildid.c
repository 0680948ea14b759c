/* GNU build-ids of the ELF files a process maps (formats/ckpt.ksy `build_id`, format 2.2): read
 * at dump, while the process is frozen, for each file mapping that starts at offset 0 (where an
 * ELF file has its header), from the ELF header, the program headers and the PT_NOTE segments.
 * The file is the target's to choose, so every read is bounded and every offset checked, and a
 * file that is not ELF, has no build-id or cannot be read simply gets no record: a build-id never
 * fails a dump. Where from: the file at the mapping's path when it is still that file (same
 * device and inode); else the mapped file itself through /proc/PID/map_files (root); else the
 * process's own memory, where the file's first segment (headers and notes) is mapped. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "ckpt.h"
#include "image.h"
#include "util.h"

#define MAX_PHNUM 256          /* more program headers than any linker makes */
#define MAX_NOTE_BYTES 65536   /* of one PT_NOTE segment; a build-id note is 36 bytes */
#define MAX_NOTES_TOTAL 262144 /* of all PT_NOTE segments of one file */
#define MAX_FILES 4096         /* files looked at per process: the freeze stays short */

/* Where the bytes of a file come from: an open file, or the process's mappings of it. */
struct elf_src {
	int fd;                     /* -1: memory */
	pid_t pid;
	const struct proc_state *p;
	const struct vma_state *v;  /* the offset-0 mapping; the others of the same file are found by dev and inode */
};

/* Exactly len bytes at file offset off, or -1. From memory: only from one mapping of the file
 * that holds all of them. */
static int src_read(const struct elf_src *s, uint64_t off, void *buf, size_t len)
{
	if (off > UINT64_MAX - len)
		return -1;
	if (s->fd >= 0)
		return pread_all(s->fd, buf, len, off);
	for (size_t i = 0; i < s->p->nvmas; i++) {
		const struct vma_state *m = &s->p->vmas[i];
		if (m->f.inode != s->v->f.inode || m->f.dev_major != s->v->f.dev_major || m->f.dev_minor != s->v->f.dev_minor ||
		    !(m->f.prot & CKPT_VMA_PROT_READ))
			continue;
		uint64_t size = m->f.end - m->f.start;
		if (off >= m->f.offset && off - m->f.offset <= size && len <= size - (off - m->f.offset))
			return mem_read(s->pid, m->f.start + (off - m->f.offset), buf, len);
	}
	return -1;
}

/* The build-id in one PT_NOTE's bytes (notes aligned to `align`), its length, or 0. */
static uint32_t find_in_notes(const uint8_t *n, size_t len, size_t align, uint8_t *out)
{
	size_t at = 0;
	while (len - at >= 12) {
		uint32_t namesz, descsz, type;
		memcpy(&namesz, n + at, 4);
		memcpy(&descsz, n + at + 4, 4);
		memcpy(&type, n + at + 8, 4);
		at += 12;
		size_t name_at = at;
		size_t name_len = ((size_t)namesz + align - 1) / align * align;
		if (name_len > len - at)
			return 0;
		at += name_len;
		size_t desc_len = ((size_t)descsz + align - 1) / align * align;
		if (desc_len > len - at)
			return 0;
		if (type == NT_GNU_BUILD_ID && namesz == 4 && !memcmp(n + name_at, "GNU", 4) && descsz >= 1 && descsz <= CKPT_BUILD_ID_MAX) {
			memcpy(out, n + at, descsz);
			return descsz;
		}
		at += desc_len;
	}
	return 0;
}

/* The build-id of the ELF file behind s, its length, or 0. */
static uint32_t read_build_id(const struct elf_src *s, uint8_t *out)
{
	Elf64_Ehdr eh;
	if (src_read(s, 0, &eh, sizeof(eh)) < 0 || memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 || eh.e_phnum > MAX_PHNUM)
		return 0;
	Elf64_Phdr ph[MAX_PHNUM];
	if (src_read(s, eh.e_phoff, ph, (size_t)eh.e_phnum * sizeof(Elf64_Phdr)) < 0)
		return 0;
	size_t budget = MAX_NOTES_TOTAL;
	uint32_t found = 0;
	for (unsigned i = 0; i < eh.e_phnum && !found; i++) {
		if (ph[i].p_type != PT_NOTE || ph[i].p_filesz < 12 || ph[i].p_filesz > MAX_NOTE_BYTES || ph[i].p_filesz > budget)
			continue;
		budget -= ph[i].p_filesz;
		uint8_t *n = xmalloc(ph[i].p_filesz);
		if (src_read(s, ph[i].p_offset, n, ph[i].p_filesz) == 0)
			found = find_in_notes(n, ph[i].p_filesz, ph[i].p_align == 8 ? 8 : 4, out);
		free(n);
	}
	return found;
}

/* The file at v's path, opened only if it is a regular file with v's device and inode (it was
 * not replaced since it was mapped). Never follows a symlink at the last component, never blocks. */
static int open_same_file(const struct vma_state *v)
{
	struct stat st;
	if (v->path[0] != '/' || (v->f.flags & CKPT_VMA_FLAGS_FILE_DELETED) || stat(v->path, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_ino != v->f.inode || major(st.st_dev) != v->f.dev_major || minor(st.st_dev) != v->f.dev_minor)
		return -1;
	int fd = open(v->path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_ino != v->f.inode) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The mapped file itself (needs CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE: root here). */
static int open_map_file(pid_t pid, const struct vma_state *v)
{
	char path[96];
	snprintf(path, sizeof(path), "/proc/%d/map_files/%llx-%llx", pid, (unsigned long long)v->f.start, (unsigned long long)v->f.end);
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	struct stat st;
	if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))) {
		close(fd);
		return -1;
	}
	return fd;
}

static int elf_candidate(const struct vma_state *v)
{
	return (v->f.kind == CKPT_VMA_KIND_FILE_PRIVATE || v->f.kind == CKPT_VMA_KIND_FILE_SHARED) && v->f.offset == 0 &&
	       v->f.inode != 0 && (v->f.prot & CKPT_VMA_PROT_READ);
}

void buildids_capture(pid_t pid, struct proc_state *p)
{
	size_t looked = 0;
	for (size_t i = 0; i < p->nvmas && looked < MAX_FILES; i++) {
		struct vma_state *v = &p->vmas[i];
		if (!elf_candidate(v))
			continue;
		looked++;
		struct build_id b = {0};
		struct elf_src s = {.fd = open_same_file(v), .pid = pid, .p = p, .v = v};
		b.source = CKPT_BUILD_ID_SOURCE_FILE;
		if (s.fd < 0) {
			s.fd = open_map_file(pid, v);
			b.source = CKPT_BUILD_ID_SOURCE_MAP_FILES;
		}
		if (s.fd < 0)
			b.source = CKPT_BUILD_ID_SOURCE_MEMORY;
		b.len = read_build_id(&s, b.id);
		if (s.fd >= 0)
			close(s.fd);
		if (!b.len)
			continue;
		v->build_id = xmalloc(sizeof(b));
		*v->build_id = b;
	}
}

uint32_t buildid_write(struct image_writer *w, const struct build_id *b, uint32_t vma_tag)
{
	struct ckpt_build_id_fixed f = {.source = b->source, .len = b->len};
	struct buf out = {0};
	buf_put(&out, &f, sizeof(f));
	buf_put(&out, b->id, b->len);
	uint32_t tag = iw_record(w, CKPT_RECORD_TYPE_BUILD_ID, vma_tag, out.p, (uint32_t)out.len);
	buf_free(&out);
	return tag;
}

int buildid_check(const struct image *im, const struct image_record *r)
{
	struct rcur c;
	struct ckpt_build_id_fixed f;
	rc_init(&c, im, r);
	if (rc_get(&c, &f, sizeof(f), "build_id fixed fields") < 0)
		return -1;
	const char *bad = ckpt_build_id_invalid(&f);
	if (bad)
		return image_bad(im, r, payload_at(r) + offsetof(struct ckpt_build_id_fixed, len), "build_id: %s %u is out of range (1 to 64)", bad, f.len);
	return rc_ptr(&c, f.len, "id") ? 0 : -1;
}
