// The numbers of the ELF64 format (x86-64, little-endian) that this library writes and reads:
// the core writer (core/elf.ts) and the reader of mapped files (stacks/elfFile.ts) both take
// them from here, with the names elf.h gives them.

/** e_ident: the magic, then the class, data encoding and version this library writes and reads. */
export const ELF_MAGIC = [0x7f, 0x45, 0x4c, 0x46] as const;
export const ELFCLASS64 = 2;
export const ELFDATA2LSB = 1;
export const EV_CURRENT = 1;

export const ET_CORE = 4;
export const EM_X86_64 = 62;

/** Sizes of the ELF64 file header, a program header and a section header. */
export const EHDR_SIZE = 64;
export const PHDR_SIZE = 56;
export const SHDR_SIZE = 64;
/** e_phnum's escape: the real count is in section header 0's sh_info (ELF extended numbering). */
export const PN_XNUM = 0xffff;

export const PT_LOAD = 1;
export const PT_NOTE = 4;
export const PF_X = 1;
export const PF_W = 2;
export const PF_R = 4;

export const SHT_SYMTAB = 2;
export const SHT_NOTE = 7;
export const SHT_NOBITS = 8;
export const SHT_DYNSYM = 11;
export const SHF_COMPRESSED = 0x800;
/** ch_type of a compressed section (Elf64_Chdr) compressed with zlib. */
export const ELFCOMPRESS_ZLIB = 1;

/** Note types: the GNU build-id (owner "GNU"), and those of a core file (owner "CORE", "LINUX"). */
export const NT_GNU_BUILD_ID = 3;
export const NT_PRSTATUS = 1;
export const NT_PRFPREG = 2;
export const NT_PRPSINFO = 3;
export const NT_AUXV = 6;
export const NT_X86_XSTATE = 0x202;
export const NT_SIGINFO = 0x53494749;
export const NT_FILE = 0x46494c45;

/** A note's name and descriptor are each padded to a multiple of 4 bytes. */
export const noteAlign = (n: number): number => (n + 3) & ~3;
