meta:
  id: ckpt
  title: ckpt-explorer process checkpoint image
  file-extension: ckpt
  license: MIT
  endian: le
  -ckpt-version:
    major: 2
    minor: 2
  # Enums whose C names are PREFIX_LABEL instead of CKPT_ENUM_LABEL (gen-c-header.js).
  -ckpt-c-enum-prefix:
    exit_code: EXIT
  # What a sound image is, beyond the layout of each payload. Every reader (the TypeScript
  # decoder's verify, and the C reader that `ckpt restore` and `ckpt restore --dry-run` use)
  # checks exactly these, so that `ckpt-inspect verify` calls an image sound if and only if
  # restore accepts it as an image. Field-level rules are the `valid:` keys on the fields.
  -ckpt-limits:
    # Largest metadata payload a reader reads whole (page data is never read whole).
    max_metadata_payload: 67108864
    # More records than any real process tree needs; bounds the index of a hostile image.
    max_records: 2097152
    # (2.2) Most bytes one zstd chunk of a `pages_zstd` record decompresses to: reading one page
    # decompresses one chunk, never more than this.
    max_zstd_chunk: 4194304
  # The record tree: for each record type, the types its parent may have (`top`: ptag 0),
  # how many children of this type each such parent must (`min`) or may (`max`) have, which
  # field of the parent states their number (`count`), how many the image needs at least
  # (`image-min`) and may hold at most (`image-max`), and the header flags the type must
  # (`flags`) carry; every other record of a known type has flags 0. The head is the first
  # record, the tail the last. Record types this version does not know may appear anywhere and
  # are skipped; one that has the `page_hashed` flag is bulk data like `pages`: readers do not
  # read it whole, and do not check its payload_sum or its size.
  -ckpt-grammar:
    head: {parents: [top], image-max: 1}
    tail: {parents: [top]}
    pad: {parents: [top, pagemap]}
    file: {parents: [top]}
    process: {parents: [top, process], image-min: 1}
    zombie: {parents: [process]}
    thread: {parents: [process], min: 1, count: nthreads}
    mm: {parents: [process], min: 1, max: 1}
    vma: {parents: [mm], count: nvmas}
    pagemap: {parents: [mm]}
    pages: {parents: [pagemap], max: 1, flags: [page_hashed]}
    pages_zstd: {parents: [pagemap], max: 1, flags: [page_hashed, compressed]}
    files: {parents: [process], max: 1}
    fd: {parents: [files], count: nfds}
    sigactions: {parents: [process], max: 1}
    pending_signals: {parents: [process, thread], max: 1}
    timers: {parents: [process], max: 1}
    posix_timer: {parents: [process]}
    process_attrs: {parents: [process], max: 1}
    seccomp_filter: {parents: [process]}
    unsupported: {parents: [top, process, mm, files, thread]}
    file_content: {parents: [file], max: 1}
    file_extent: {parents: [file_content], count: nextents}
    file_data: {parents: [file_extent], min: 1, max: 1, flags: [page_hashed]}
    file_lock: {parents: [file]}
    build_id: {parents: [vma], max: 1}
  # Rules across fields and records, which `valid:` cannot state. Each reader implements each
  # one by its id and names the id when an image breaks it.
  -ckpt-rules:
    string_nul: No string (`lstr`) contains a NUL byte.
    one_main_thread: Exactly one thread of each process has the `main_thread` flag.
    vma_range: >-
      A VMA starts and ends at multiples of the head's `page_size`, and so does its file
      offset; it lies below 2^56 (the end of user space), unless it is the vsyscall page.
    vma_order: The VMAs of an mm come in ascending address order and do not overlap.
    fd_unique: No two fds of one file table have the same number.
    file_ref: >-
      Every reference to an open file description (an fd's `file`, an epoll target's `file`, a
      socket's `peer` and its details' `listener`) names a `file` record of the image, which
      comes before it; a socket's peer and listener are sockets.
    pid_unique: >-
      No two processes or zombies of the image have the same pid, and no two threads the same
      tid.
    tree_pids: A process under another process names that process's pid as its ppid.
    pagemap_runs: >-
      A pagemap's runs start at multiples of `page_size` and hold `npages` pages in all.
    pages_layout: >-
      Every pagemap has exactly one child that holds its pages: a `pages` record, or (2.2) a
      `pages_zstd` record. A pages payload starts at a multiple of `page_size` and holds
      exactly the `npages` pages of its pagemap.
    zstd_chunks: >-
      (2.2) A `pages_zstd` payload has `nchunks` = ceil(`npages` / `chunk_pages`) chunks of at
      most `max_zstd_chunk` bytes of pages each, whose `chunk_ends` ascend and whose last end
      is the end of the payload; a chunk is at most its pages' size plus 1/128 of it plus 512
      bytes, and is one zstd frame (without dictionary or checksum, with a window of at most 8 MiB)
      that states its content size, which is exactly the bytes of its pages, and decompresses to
      exactly those bytes.
    run_order: >-
      The runs of an mm, across its pagemaps in file order, come in ascending address order
      and do not overlap.
    run_in_vma: >-
      Every run lies inside one VMA of its mm that restore maps: not vdso, vvar,
      vvar_vclock, vsyscall, device or unknown.
    page_hash: Every page matches its XXH64 in its pagemap.
    file_extents: >-
      The extents of a `file_content` start at multiples of the head's `page_size`, come in
      ascending order without overlapping, and end at or below its `size`; each extent's
      `file_data` starts at a multiple of `page_size` and holds exactly its pages, and every
      page matches its XXH64 in the extent.
doc: |
  A checkpoint image of one or more Linux processes, written by the ckpt-explorer native
  checkpointer (`ckpt dump`) and read by `ckpt restore`, the `ckpt-inspect` CLI and the
  VS Code extension.

  The image is a stream of records. Every record starts with a 32-byte header
  (`record_header`) and is padded with zero bytes so that the next header starts at a
  multiple of 8. Records form a tree: each record has its own `tag` (unique in the image,
  non-zero) and names the tag of its parent record in `ptag` (0 at the top level). A parent
  always comes before its children. The first record is `head`, the last is `tail`.

      head
      file ...                     open file descriptions, which fds of any process point to
      file_content                 the bytes of a file whose path is gone (unlinked, memfd, O_TMPFILE)
        file_extent ...            one run of its data, with one hash per page
          file_data                the bytes, page-aligned in the file
      file_lock ...                a lock held through a file (flock, POSIX, OFD)
      process                      the root; a child process is a child record of its parent
        thread ...                 registers, FPU/xstate, signal mask, rseq, robust list
        mm                         the mm fields and auxv
          vma ...                  one per mapping
            build_id               (2.2) the GNU build-id of the ELF file it maps from offset 0
          pagemap ...              runs of dumped pages with one hash per page
            pages                  the page bytes, page-aligned in the file
            pages_zstd             or (2.2, `dump --compress`) the same bytes in zstd chunks
        sigactions                 signal handlers
        timers                     interval timers (setitimer) and the timer slack
        posix_timer ...            timers of timer_create, by id
        process_attrs              oom_score_adj and prctl state
        seccomp_filter ...         seccomp filters, the first installed first
        pending_signals            queued signals (process-wide or per thread)
        files
          fd ...                   descriptor numbers, each naming its open file description
        zombie ...                 children that exited and were not reaped yet
        process ...                child processes, each with all of the above
        unsupported ...            what could not be captured, and why
      tail

  Integrity: `header_sum` guards each header, `payload_sum` each metadata payload. Page bytes
  are hashed once: a `pages` record has the `page_hashed` flag and is covered by the per-page
  XXH64 hashes in its parent `pagemap`, which the pagemap's own `payload_sum` covers. A
  `pages_zstd` record (2.2) is covered the same way: the hashes are of the uncompressed pages,
  so comparing two images by their hashes reads no page data, compressed or not. The tail
  holds the XXH64 of every header before it, which covers all the checksums at once.

  Checksums are XXH64 (seed 0); a 32-bit field holds the low 32 bits of the XXH64 value.

  Evolution: a reader accepts any minor version of its major version. New minor versions only
  add record types and append fields at the end of a payload; readers skip unknown record
  types and ignore payload bytes past the fields they know.

  Values that can exceed 2^53 (addresses, registers, masks, hashes) are 64-bit fields (`u8`);
  the TypeScript decoder reads every `u8` as a BigInt.
seq:
  - id: records
    type: record
    repeat: eos
    doc: All records of the image, head first and tail last.

types:
  record:
    doc: |
      One record as it lies in the file: header, payload, padding. Readers of large images do
      not parse `record` whole; they index `record_header`s and decode payloads on demand.
    seq:
      - id: header
        type: record_header
        doc: The common record header.
      - id: payload
        size: header.len
        doc: The payload; its type depends on `header.type`.
        type:
          switch-on: header.type
          cases:
            'record_type::head': head
            'record_type::tail': tail
            'record_type::pad': pad
            'record_type::process': process
            'record_type::thread': thread
            'record_type::mm': mm
            'record_type::vma': vma
            'record_type::pagemap': pagemap
            'record_type::pages_zstd': pages_zstd
            'record_type::files': files
            'record_type::fd': fd
            'record_type::file': file
            'record_type::zombie': zombie
            'record_type::sigactions': sigactions
            'record_type::pending_signals': pending_signals
            'record_type::unsupported': unsupported
            'record_type::timers': timers
            'record_type::posix_timer': posix_timer
            'record_type::process_attrs': process_attrs
            'record_type::seccomp_filter': seccomp_filter
            'record_type::file_content': file_content
            'record_type::file_extent': file_extent
            'record_type::file_lock': file_lock
            'record_type::build_id': build_id
      - id: padding
        size: (8 - header.len % 8) % 8
        doc: Zero bytes up to the next multiple of 8.

  record_header:
    doc: The 32-byte header common to every record.
    seq:
      - id: type
        type: u4
        enum: record_type
        doc: What the payload holds. Readers show unknown types as unknown and skip them.
      - id: flags
        type: u4
        doc: Bit set of `record_flags`.
        -ckpt-flags: record_flags
      - id: len
        type: u4
        doc: Payload length in bytes, not counting the header or the padding after the payload.
      - id: tag
        type: u4
        doc: This record's tag, unique in the image and never 0 (readers report a 0 tag).
      - id: ptag
        type: u4
        doc: Tag of the parent record, which comes earlier in the image; 0 at the top level.
      - id: payload_sum
        type: u4
        -ckpt-display: hex
        doc: Low 32 bits of the XXH64 of the payload; 0 when the `page_hashed` flag is set.
      - id: reserved
        type: u4
        doc: Zero. Reserved for later minor versions; readers ignore it.
      - id: header_sum
        type: u4
        -ckpt-display: hex
        doc: Low 32 bits of the XXH64 of the 28 header bytes before this field.

  lstr:
    doc: A UTF-8 string with a 32-bit length prefix, not NUL-terminated.
    seq:
      - id: len
        type: u4
        valid:
          expr: '_ <= _io.size - _io.pos'
        doc: Length of the string in bytes.
      - id: value
        type: str
        size: len
        encoding: UTF-8
        doc: The string.

  lbytes:
    doc: A byte string with a 32-bit length prefix.
    seq:
      - id: len
        type: u4
        valid:
          expr: '_ <= _io.size - _io.pos'
        doc: Length in bytes.
      - id: value
        size: len
        doc: The bytes.

  head:
    doc: The first record of every image. Identifies the format, the machine and the moment.
    seq:
      - id: magic
        contents: [0x43, 0x4b, 0x50, 0x54, 0x49, 0x4d, 0x47, 0x0a]
        doc: '"CKPTIMG\n".'
      - id: version_major
        type: u2
        valid: 2
        doc: Format major version. Readers refuse another major version.
      - id: version_minor
        type: u2
        doc: Format minor version. Readers accept any minor version of their major version.
      - id: arch
        type: u2
        enum: arch
        doc: Architecture of the checkpointed processes, as an ELF machine number.
      - id: reserved
        type: u2
        doc: Zero.
      - id: page_size
        type: u4
        valid:
          expr: '_ >= 4096 and _ <= 1048576 and (_ & (_ - 1)) == 0'
        doc: Page size of the checkpointed machine in bytes, a power of two from 4 KiB to 1 MiB.
      - id: flags
        type: u4
        doc: Bit set of `image_flags`.
        -ckpt-flags: image_flags
      - id: time_ns
        type: u8
        doc: When the processes were frozen, in ns since the Unix epoch (CLOCK_REALTIME).
      - id: sysname
        type: lstr
        doc: uname sysname, e.g. "Linux".
      - id: nodename
        type: lstr
        doc: uname nodename, the host name.
      - id: release
        type: lstr
        doc: uname release, the kernel release. Restore refuses a different kernel's vdso.
      - id: version
        type: lstr
        doc: uname version, the kernel build.
      - id: machine
        type: lstr
        doc: uname machine, e.g. "x86_64".
      - id: checkpointer
        type: lstr
        doc: Name and version of the program that wrote the image, e.g. "ckpt 0.1.0".
      - id: boot_id
        type: lstr
        doc: /proc/sys/kernel/random/boot_id at checkpoint time.
      - id: frozen_ns
        type: u8
        if: not _io.eof
        doc: |
          (2.1) How long the processes could not run, in ns: from the first stop to the resume.
          0 when they stayed frozen until their pages were written (the time is then not known
          when the head is written). Absent in older images.

  tail:
    doc: |
      The last record of every image. An image without a tail is truncated, or its writer
      was stopped before it finished.
    seq:
      - id: magic
        contents: [0x43, 0x4b, 0x50, 0x54, 0x45, 0x4e, 0x44, 0x0a]
        doc: '"CKPTEND\n".'
      - id: record_count
        type: u4
        doc: Number of records before the tail, the head included.
      - id: reserved
        type: u4
        doc: Zero.
      - id: headers_sum
        type: u8
        -ckpt-display: hex
        doc: XXH64 of the 32-byte headers of all records before the tail, in file order.

  pad:
    doc: |
      Filler that makes the next payload start where it must (a `pages` payload starts at a
      multiple of the page size). Its payload is zero bytes and means nothing.
    seq:
      - id: zeros
        size-eos: true
        doc: Zero bytes.

  process:
    doc: One process (thread group). Its threads, memory, files and signals are its children.
    seq:
      - id: pid
        type: u4
        doc: Process ID (the thread group ID) in the checkpointer's PID namespace.
      - id: ppid
        type: u4
        doc: Parent process ID.
      - id: pgid
        type: u4
        doc: Process group ID.
      - id: sid
        type: u4
        doc: Session ID.
      - id: uids
        type: u4
        repeat: expr
        repeat-expr: 4
        doc: Real, effective, saved and filesystem user IDs.
      - id: gids
        type: u4
        repeat: expr
        repeat-expr: 4
        doc: Real, effective, saved and filesystem group IDs.
      - id: umask
        type: u4
        -ckpt-display: octal
        doc: File mode creation mask.
      - id: personality
        type: u4
        -ckpt-display: hex
        doc: Execution domain, personality(0xffffffff).
      - id: nthreads
        type: u4
        doc: Number of threads; one `thread` record each.
      - id: state
        type: u1
        doc: State letter from /proc/PID/stat before the freeze (R, S, D, T, ...), as ASCII.
        -ckpt-display: char
        -ckpt-labels: process_state
      - id: exit_signal
        type: u1
        doc: Signal sent to the parent when the process exits.
      - id: reserved
        type: u2
        doc: Zero.
      - id: flags
        type: u4
        doc: Bit set of `process_flags`.
        -ckpt-flags: process_flags
      - id: tty_nr
        type: u4
        doc: Controlling terminal device number, 0 when none.
      - id: start_time
        type: u8
        doc: Start time in clock ticks after boot (informational; not restored).
      - id: rlimits
        type: rlimit
        repeat: expr
        repeat-expr: 16
        doc: Resource limits, indexed by `rlimit_resource`.
        -ckpt-index-enum: rlimit_resource
      - id: comm
        type: lstr
        doc: Command name (/proc/PID/comm).
      - id: exe
        type: lstr
        doc: Executable path (/proc/PID/exe).
      - id: cwd
        type: lstr
        doc: Current working directory.
      - id: root
        type: lstr
        doc: Root directory.
      - id: cmdline
        type: lbytes
        doc: Arguments, each NUL-terminated, as in /proc/PID/cmdline.
        -ckpt-display: nul-separated
      - id: environ
        type: lbytes
        doc: Initial environment, NUL-separated, as in /proc/PID/environ.
        -ckpt-display: nul-separated
      - id: ngroups
        type: u4
        valid:
          expr: '_ * 4 <= _io.size - _io.pos'
        doc: Number of supplementary groups.
      - id: groups
        type: u4
        repeat: expr
        repeat-expr: ngroups
        doc: Supplementary group IDs.
      - id: nomitted
        type: u4
        valid:
          expr: '_ * 4 <= _io.size - _io.pos'
        doc: |
          Number of child processes the dump left out (a dump without --tree of a process
          with children): restore cannot give them back, and the process will not find them.
      - id: omitted
        type: u4
        repeat: expr
        repeat-expr: nomitted
        doc: The pids of the children left out.

  rlimit:
    doc: One resource limit; 0xffffffffffffffff means unlimited.
    seq:
      - id: cur
        type: u8
        doc: Soft limit.
        -ckpt-sentinels:
          '18446744073709551615': unlimited
      - id: max
        type: u8
        doc: Hard limit.
        -ckpt-sentinels:
          '18446744073709551615': unlimited

  thread:
    doc: One thread of a process, with its registers and per-thread kernel state.
    seq:
      - id: tid
        type: u4
        doc: Thread ID; equals the process's pid for the main thread.
      - id: flags
        type: u4
        doc: Bit set of `thread_flags`.
        -ckpt-flags: thread_flags
      - id: regs
        type: user_regs
        doc: General-purpose registers (x86_64 user_regs_struct), fs/gs base included.
      - id: sigmask
        type: u8
        -ckpt-display: hex
        doc: Blocked signals; bit n-1 is signal n.
      - id: sigpending
        type: u8
        -ckpt-display: hex
        doc: Signals pending for this thread only (the siginfos are in `pending_signals`).
      - id: tid_address
        type: u8
        -ckpt-display: hex
        doc: clear_child_tid, the address set by set_tid_address(2) or CLONE_CHILD_CLEARTID.
      - id: robust_list
        type: u8
        -ckpt-display: hex
        doc: Head of the robust futex list (set_robust_list(2)).
      - id: robust_list_len
        type: u8
        doc: Length argument of set_robust_list(2).
      - id: rseq_addr
        type: u8
        -ckpt-display: hex
        doc: Address of the registered struct rseq, 0 when none.
      - id: rseq_len
        type: u4
        doc: Registered rseq area length.
      - id: rseq_sig
        type: u4
        -ckpt-display: hex
        doc: rseq abort signature.
      - id: altstack_sp
        type: u8
        -ckpt-display: hex
        doc: Alternate signal stack base (sigaltstack(2)).
      - id: altstack_size
        type: u8
        doc: Alternate signal stack size.
      - id: altstack_flags
        type: u4
        doc: Alternate signal stack flags (SS_DISABLE = 2, SS_AUTODISARM = 0x80000000).
      - id: xstate_kind
        type: u4
        enum: xstate_kind
        valid:
          any-of: [xstate_kind::none, xstate_kind::fxsave, xstate_kind::xsave]
        doc: Layout of `xstate`.
      - id: comm
        type: lstr
        doc: Thread name (/proc/PID/task/TID/comm).
      - id: xstate
        type: lbytes
        doc: FPU, SSE and AVX state, as returned by PTRACE_GETREGSET NT_X86_XSTATE (XSAVE layout).

  user_regs:
    doc: x86_64 struct user_regs_struct, in the kernel's order.
    seq:
      - {id: r15, type: u8, -ckpt-display: hex, doc: 'r15'}
      - {id: r14, type: u8, -ckpt-display: hex, doc: 'r14'}
      - {id: r13, type: u8, -ckpt-display: hex, doc: 'r13'}
      - {id: r12, type: u8, -ckpt-display: hex, doc: 'r12'}
      - {id: rbp, type: u8, -ckpt-display: hex, doc: 'rbp, the frame pointer'}
      - {id: rbx, type: u8, -ckpt-display: hex, doc: 'rbx'}
      - {id: r11, type: u8, -ckpt-display: hex, doc: 'r11'}
      - {id: r10, type: u8, -ckpt-display: hex, doc: 'r10'}
      - {id: r9, type: u8, -ckpt-display: hex, doc: 'r9'}
      - {id: r8, type: u8, -ckpt-display: hex, doc: 'r8'}
      - {id: rax, type: u8, -ckpt-display: hex, doc: 'rax; a syscall''s return value when the thread stopped in one'}
      - {id: rcx, type: u8, -ckpt-display: hex, doc: 'rcx'}
      - {id: rdx, type: u8, -ckpt-display: hex, doc: 'rdx'}
      - {id: rsi, type: u8, -ckpt-display: hex, doc: 'rsi'}
      - {id: rdi, type: u8, -ckpt-display: hex, doc: 'rdi'}
      - {id: orig_rax, type: u8, -ckpt-display: hex, doc: 'syscall number the thread stopped in, or 2^64-1 (-1) when none'}
      - {id: rip, type: u8, -ckpt-display: hex, doc: 'instruction pointer'}
      - {id: cs, type: u8, -ckpt-display: hex, doc: 'code segment selector'}
      - {id: eflags, type: u8, -ckpt-display: hex, doc: 'flags register'}
      - {id: rsp, type: u8, -ckpt-display: hex, doc: 'stack pointer'}
      - {id: ss, type: u8, -ckpt-display: hex, doc: 'stack segment selector'}
      - {id: fs_base, type: u8, -ckpt-display: hex, doc: 'fs base: the thread pointer (TLS) on x86_64'}
      - {id: gs_base, type: u8, -ckpt-display: hex, doc: 'gs base'}
      - {id: ds, type: u8, -ckpt-display: hex, doc: 'data segment selector'}
      - {id: es, type: u8, -ckpt-display: hex, doc: 'extra segment selector'}
      - {id: fs, type: u8, -ckpt-display: hex, doc: 'fs selector'}
      - {id: gs, type: u8, -ckpt-display: hex, doc: 'gs selector'}

  mm:
    doc: The memory descriptor of a process. Its VMAs and page maps are its children.
    seq:
      - {id: start_code, type: u8, -ckpt-display: hex, doc: 'Start of the text segment.'}
      - id: end_code
        type: u8
        -ckpt-display: hex
        valid:
          expr: '_ >= start_code and _ < 72057594037927936'
        doc: 'End of the text segment.'
      - {id: start_data, type: u8, -ckpt-display: hex, doc: 'Start of the data segment.'}
      - id: end_data
        type: u8
        -ckpt-display: hex
        valid:
          expr: '_ >= start_data and _ < 72057594037927936'
        doc: 'End of the data segment.'
      - {id: start_brk, type: u8, -ckpt-display: hex, doc: 'Start of the heap (brk area).'}
      - id: brk
        type: u8
        -ckpt-display: hex
        valid:
          expr: '_ >= start_brk and _ < 72057594037927936'
        doc: 'Current program break.'
      - {id: start_stack, type: u8, -ckpt-display: hex, doc: 'Start (top) of the main stack.'}
      - {id: arg_start, type: u8, -ckpt-display: hex, doc: 'Start of the argument strings.'}
      - id: arg_end
        type: u8
        -ckpt-display: hex
        valid:
          expr: '_ >= arg_start and _ < 72057594037927936'
        doc: 'End of the argument strings.'
      - {id: env_start, type: u8, -ckpt-display: hex, doc: 'Start of the environment strings.'}
      - id: env_end
        type: u8
        -ckpt-display: hex
        valid:
          expr: '_ >= env_start and _ < 72057594037927936'
        doc: 'End of the environment strings.'
      - id: vdso_hash
        type: u8
        -ckpt-display: hex
        doc: XXH64 of the [vdso] mapping's bytes; restore refuses a kernel whose vdso differs.
      - id: nvmas
        type: u4
        doc: Number of `vma` records.
      - id: nauxv
        type: u4
        valid:
          expr: '_ * 16 <= _io.size - _io.pos'
        doc: Number of auxiliary vector entries.
      - id: auxv
        type: auxv_entry
        repeat: expr
        repeat-expr: nauxv
        doc: The auxiliary vector (/proc/PID/auxv), AT_NULL included.

  auxv_entry:
    doc: One auxiliary vector entry.
    seq:
      - id: key
        type: u8
        enum: auxv_type
        doc: Entry type.
      - id: value
        type: u8
        -ckpt-display: hex
        doc: Entry value.

  vma:
    doc: One virtual memory area, as in /proc/PID/maps and smaps.
    seq:
      - id: start
        type: u8
        -ckpt-display: hex
        doc: First address of the area.
      - id: end
        type: u8
        -ckpt-display: hex
        valid:
          expr: '_ > start'
        doc: First address past the area.
      - id: offset
        type: u8
        -ckpt-display: hex
        doc: Offset in the backing file, in bytes.
      - id: inode
        type: u8
        doc: Inode of the backing file, 0 when anonymous.
      - id: file_size
        type: u8
        doc: Size of the backing file at checkpoint time.
      - id: file_mtime_ns
        type: u8
        doc: Modification time of the backing file at checkpoint time, in ns since the epoch.
      - id: dev_major
        type: u4
        doc: Major device number of the backing file.
      - id: dev_minor
        type: u4
        doc: Minor device number of the backing file.
      - id: prot
        type: u4
        doc: Bit set of `vma_prot`.
        -ckpt-flags: vma_prot
      - id: flags
        type: u4
        doc: Bit set of `vma_flags`.
        -ckpt-flags: vma_flags
      - id: kind
        type: u2
        enum: vma_kind
        doc: What backs the area, which decides how restore recreates it.
      - id: reserved
        type: u2
        doc: Zero.
      - id: path
        type: lstr
        doc: 'The name /proc/PID/maps shows, e.g. a path, "[heap]", "[stack]", "[vdso]", or empty.'

  build_id:
    doc: |
      (2.2) The GNU build-id of the ELF file a VMA maps: the descriptor of its NT_GNU_BUILD_ID
      note, found through its program headers at dump time, so that a debugger or the editor can
      tell which binary and which debug file (/usr/lib/debug/.build-id/xx/yyyy.debug) match the
      image. A child of the VMA that maps the start of the file (offset 0); the file's other VMAs
      (same device and inode) share it. Absent for files that are not ELF, have no build-id, or
      could not be read.
    seq:
      - id: source
        type: u2
        enum: build_id_source
        doc: Where it was read from.
      - id: reserved
        type: u2
        doc: Zero.
      - id: len
        type: u4
        valid:
          expr: '_ >= 1 and _ <= 64 and _ <= _io.size - _io.pos'
        doc: Length of the build-id in bytes (20 for the usual SHA-1; at most 64).
      - id: id
        size: len
        doc: The build-id bytes, as `readelf -n` and `file` print them in hex.

  pagemap:
    doc: |
      Runs of dumped pages and one XXH64 per page. Its child `pages` record holds the bytes of
      these pages, in run order. Pages not listed were never touched, are zero, or are clean
      file pages that restore maps from the file.
    seq:
      - id: nruns
        type: u4
        valid:
          expr: '_ * 16 <= _io.size - _io.pos'
        doc: Number of runs.
      - id: npages
        type: u4
        valid:
          expr: '_ * 8 <= _io.size - _io.pos - nruns * 16'
        doc: Total number of pages in all runs.
      - id: runs
        type: page_run
        repeat: expr
        repeat-expr: nruns
        doc: Runs of pages with contiguous virtual addresses, in ascending address order.
      - id: page_hashes
        size: npages * 8
        doc: One little-endian XXH64 per page, in run order; they also check the page bytes.
        -ckpt-display: hash64-array

  pages_zstd:
    doc: |
      (2.2) The bytes of its pagemap's pages, compressed (`ckpt dump --compress`): in run order,
      cut into chunks of `chunk_pages` pages (the last one may hold fewer), each chunk one zstd
      frame. Reading a page decompresses its one chunk: chunk `i` holds pages
      `i * chunk_pages` up to the next chunk's first, and its frame lies at
      [`chunk_ends[i-1]`, `chunk_ends[i]`) (from 0 for the first) counted from the start of
      `frames`. Like `pages`, the record has the `page_hashed` flag (and `compressed`): the
      page hashes of its pagemap are those of the uncompressed pages. Restore copies these
      pages (decompressed) even with `--lazy`.
    seq:
      - id: chunk_pages
        type: u4
        valid:
          min: 1
        doc: Pages per chunk (`ckpt` writes 64); at most `max_zstd_chunk` bytes of pages.
      - id: nchunks
        type: u4
        valid:
          expr: '_ * 4 <= _io.size - _io.pos'
        doc: Number of chunks, ceil(npages / chunk_pages) of the pagemap.
      - id: chunk_ends
        type: u4
        repeat: expr
        repeat-expr: nchunks
        doc: Where each chunk's frame ends, counted from the start of `frames`; ascending.
      - id: frames
        size-eos: true
        doc: The zstd frames, one per chunk, back to back.

  page_run:
    doc: Pages with contiguous virtual addresses.
    seq:
      - id: vaddr
        type: u8
        -ckpt-display: hex
        doc: Virtual address of the first page.
      - id: npages
        type: u4
        doc: Number of pages.
      - id: flags
        type: u4
        doc: Bit set of `page_run_flags`.
        -ckpt-flags: page_run_flags

  files:
    doc: The file descriptor table of a process; its `fd` records are its children.
    seq:
      - id: nfds
        type: u4
        doc: Number of `fd` records.
      - id: max_fds
        type: u4
        doc: Size of the fd table (the NOFILE limit at checkpoint time).

  fd:
    doc: One open file descriptor of a process, and the open file description it refers to.
    seq:
      - id: fd
        type: u4
        valid:
          max: 1073741823
        doc: Descriptor number, below the kernel's ceiling for fs.nr_open (2^30).
      - id: fd_flags
        type: u2
        doc: Descriptor flags (FD_CLOEXEC = 1).
      - id: reserved
        type: u2
        doc: Zero.
      - id: file
        type: u4
        doc: |
          Tag of the `file` record of its open file description. Descriptors that share one
          (dup(2) in a process, or inherited across fork by several processes) name the same
          `file`, and share its file position and status flags after restore too.

  file:
    doc: |
      One open file description (what open(2), pipe(2), socket(2) and friends create, and
      dup(2) and fork share): kind, status flags, position, path and kind-specific state.
      Descriptors of any process of the image refer to it by its tag.
    seq:
      - id: kind
        type: u2
        enum: fd_kind
        doc: What the description refers to.
      - id: reserved
        type: u2
        doc: Zero.
      - id: flags
        type: u4
        -ckpt-display: octal
        doc: Open file status flags (O_*), from /proc/PID/fdinfo.
      - id: mode
        type: u4
        -ckpt-display: octal
        doc: st_mode of the open file.
      - id: reserved2
        type: u4
        doc: Zero.
      - id: pos
        type: u8
        doc: File position.
      - id: dev
        type: u8
        -ckpt-display: hex
        doc: st_dev of the open file.
      - id: ino
        type: u8
        doc: st_ino of the open file.
      - id: size
        type: u8
        doc: st_size of the open file at checkpoint time.
      - id: path
        type: lstr
        doc: Target of /proc/PID/fd/N, e.g. a path, "pipe:[1234]" or "anon_inode:[eventfd]".
      - id: extra_len
        type: u4
        doc: Length of `extra`.
      - id: extra
        size: extra_len
        doc: Kind-specific data; empty for kinds that need none.
        type:
          switch-on: kind
          cases:
            'fd_kind::pipe': fd_pipe
            'fd_kind::fifo': fd_pipe
            'fd_kind::eventfd': fd_eventfd
            'fd_kind::epoll': fd_epoll
            'fd_kind::socket': fd_socket
            'fd_kind::tty': fd_tty
            'fd_kind::signalfd': fd_signalfd
            'fd_kind::timerfd': fd_timerfd
            'fd_kind::inotify': fd_inotify
            'fd_kind::fanotify': fd_fanotify

  file_content:
    doc: |
      The contents of an open file whose path is gone: a regular file unlinked while open, an
      O_TMPFILE file, or a memfd. A child of its `file` record (one per inode: the other
      descriptions of the same file in the image share it). Restore makes the file again
      without a path (O_TMPFILE in its old directory, or create and unlink; memfd_create for
      a memfd), as the restoring user, writes these bytes, sets its size, mode and seals, and
      opens each description with its own flags and position. Its data lies in `file_extent`
      children: holes of a sparse file are not stored. A dump refuses a file with more than
      16 GiB of data.
    seq:
      - id: size
        type: u8
        doc: st_size of the file, in bytes; restore makes the file this long.
      - id: flags
        type: u4
        doc: Bit set of `content_flags`.
        -ckpt-flags: content_flags
      - id: seals
        type: u4
        -ckpt-display: hex
        doc: 'The seals of a memfd (F_GET_SEALS: F_SEAL_SEAL 1, SHRINK 2, GROW 4, WRITE 8, FUTURE_WRITE 16, EXEC 32), else 0.'
      - id: mode
        type: u4
        -ckpt-display: octal
        doc: Permission bits of the file (st_mode & 07777), given back after the bytes are written.
      - id: nextents
        type: u4
        doc: Number of `file_extent` children.
      - id: data_bytes
        type: u8
        doc: Bytes of data in all extents (the file's size less its holes).
      - id: name
        type: lstr
        doc: |
          The memfd's name (what memfd_create was given, without "memfd:"), or the path the
          file had, without " (deleted)": restore makes the file in that directory.

  file_extent:
    doc: |
      One run of bytes of a `file_content`, at most 64 MiB, with one XXH64 per page. Its child
      `file_data` holds the bytes, in whole pages (the last one padded with zeros).
    seq:
      - id: offset
        type: u8
        doc: Offset of the first byte in the file, a multiple of the head's `page_size`.
      - id: len
        type: u8
        valid:
          max: 67108864
        doc: Bytes of the file in this run, at most 64 MiB; the last run may end mid-page.
      - id: npages
        type: u4
        valid:
          expr: '_ * 8 <= _io.size - _io.pos'
        doc: Pages of `file_data`, len rounded up to whole pages.
      - id: page_hashes
        size: npages * 8
        doc: One little-endian XXH64 per page of `file_data`, in order.
        -ckpt-display: hash64-array

  file_lock:
    doc: |
      A lock held through the open file description of its parent `file` record, from
      /proc/PID/fdinfo (lock: lines). Restore takes it again once each process's descriptors are
      in place, and fails, naming it, when another process holds a conflicting lock.
    seq:
      - id: kind
        type: u2
        enum: lock_kind
        doc: flock(2), a POSIX record lock (fcntl F_SETLK), or an OFD lock (F_OFD_SETLK).
      - id: type
        type: u2
        enum: lock_type
        doc: Shared (read) or exclusive (write).
      - id: pid
        type: u4
        doc: For a POSIX lock, the process of the image that holds it (its pid in the image); else 0.
      - id: start
        type: u8
        doc: First byte locked (0 for flock).
      - id: len
        type: u8
        doc: Bytes locked; 0 means up to the end of the file, however long it grows.

  zombie:
    doc: |
      A child process that has exited and that its parent has not reaped yet. Restore creates
      it again as an exited child with the same exit status, for the parent to reap.
    seq:
      - id: pid
        type: u4
        doc: Its process ID.
      - id: pgid
        type: u4
        doc: Its process group ID.
      - id: sid
        type: u4
        doc: Its session ID.
      - id: exit_status
        type: u4
        -ckpt-display: hex
        doc: The status wait(2) will return for it (exit code << 8, or the killing signal).
      - id: comm
        type: lstr
        doc: Its command name.

  fd_pipe:
    doc: |
      A pipe or FIFO end, with the bytes buffered in the pipe when every process was frozen. A
      pipe end whose other end is in no `file` record of the image is external: it led to a
      process outside the checkpoint; restore gives it the fd `--inherit-fd` names, makes it
      broken (its other end closed), or, at fds 0-2, attaches it per `--stdio`.
    seq:
      - id: pipe_ino
        type: u8
        doc: Inode of the pipe; the two ends of one pipe share it.
      - id: capacity
        type: u4
        doc: The pipe's capacity in bytes (F_GETPIPE_SZ).
      - id: data
        type: lbytes
        doc: Bytes buffered in the pipe, stored once, on the first file of the pipe in the image.

  fd_eventfd:
    doc: An eventfd.
    seq:
      - id: count
        type: u8
        doc: The counter.
      - id: flags
        type: u4
        doc: eventfd flags (EFD_SEMAPHORE = 1, EFD_NONBLOCK, EFD_CLOEXEC).

  fd_epoll:
    doc: An epoll instance and the set it watches.
    seq:
      - id: count
        type: u4
        valid:
          expr: '_ * 20 <= _io.size - _io.pos'
        doc: Number of watched descriptors.
      - id: targets
        type: epoll_target
        repeat: expr
        repeat-expr: count
        doc: Watched descriptors.

  epoll_target:
    doc: One open file watched by an epoll instance, under the descriptor number it was added with.
    seq:
      - id: tfd
        type: u4
        doc: Descriptor number the file was added with (it may since have been closed).
      - id: file
        type: u4
        doc: Tag of the `file` record of the watched open file description.
      - id: events
        type: u4
        -ckpt-display: hex
        doc: Event mask (EPOLLIN, EPOLLOUT, EPOLLET, ...).
      - id: data
        type: u8
        -ckpt-display: hex
        doc: The user data returned with each event.

  fd_socket:
    doc: |
      A socket: unix (stream, datagram, seqpacket), TCP or UDP (IPv4, IPv6). Restore supports
      what `unsupported` does not name. Images of format 2.0 end after `queued`.
    seq:
      - id: family
        type: u4
        doc: Address family (AF_UNIX = 1, AF_INET = 2, AF_INET6 = 10, ...).
      - id: type
        type: u4
        doc: Socket type (SOCK_STREAM = 1, SOCK_DGRAM = 2, ...).
      - id: state
        type: u4
        doc: Connection state as the kernel reports it, 0 when unknown.
      - id: peer_ino
        type: u8
        doc: Inode of the connected peer socket, 0 when none or unknown.
      - id: peer
        type: u4
        doc: |
          Tag of the `file` record of the connected peer socket when it is in the image (a
          socketpair(2) between processes of the image, or inside one), else 0.
      - id: shutdown
        type: u4
        doc: 'Directions shut down on this end: bit 0 reading, bit 1 writing.'
      - id: queued
        type: lbytes
        doc: |
          What waits in this socket's receive queue, written by its peer and not yet read: the
          bytes of a stream socket; for datagram and seqpacket sockets each message as a u4
          length and its bytes.
      - id: details
        type: socket_details
        if: not _io.eof
        doc: Name, addresses, listening state and options (format 2.1).

  socket_details:
    doc: |
      What a socket is beyond its peer and queue: how restore makes it again. A unix socket
      connected to another of the image is made as a pair (`peer`); one accepted from a
      listener of the image (`listener`, flag `accepted`) is connected to that listener and
      accepted again, so that both keep their names; a connection the listener had not
      accepted yet (flag `pending`) is connected to it again and left in its queue.
    seq:
      - id: flags
        type: u4
        -ckpt-flags: socket_flags
        doc: Bit set of `socket_flags`.
      - id: backlog
        type: u4
        doc: The listen(2) backlog of a listening socket, else 0.
      - id: listener
        type: u4
        doc: |
          Tag of the `file` record of the listening unix socket this one was accepted from
          (flag `accepted`) or waits in the queue of (flag `pending`), else 0.
      - id: rcvbuf
        type: u4
        doc: SO_RCVBUF as getsockopt(2) reports it when the program set it, else 0 (the default).
      - id: sndbuf
        type: u4
        doc: SO_SNDBUF as getsockopt(2) reports it when the program set it, else 0 (the default).
      - id: protocol
        type: u4
        doc: SO_PROTOCOL (IPPROTO_TCP = 6, IPPROTO_UDP = 17; 0 for unix sockets).
      - id: local
        type: lbytes
        doc: |
          The socket's own address as getsockname(2) returns it (a struct sockaddr_un, sockaddr_in
          or sockaddr_in6, of the length the kernel gave); empty when it has none. A unix name
          starting with a NUL byte is abstract.
      - id: remote
        type: lbytes
        doc: The connected peer's address as getpeername(2) returns it; empty when not connected.
      - id: peer_owner
        type: lstr
        doc: |
          For a unix socket whose peer was outside the checkpoint: who held the peer ("pid 1234
          (nc)"), or the peer's name, as far as the checkpointing user could see; else empty.
      - id: tcp_len
        type: u4
        doc: Length of `tcp`; 0 unless the connection was captured with TCP_REPAIR.
      - id: tcp
        type: tcp_repair
        size: tcp_len
        if: tcp_len != 0
        doc: An established TCP connection as TCP_REPAIR read it (flag `repaired`).

  tcp_repair:
    doc: |
      An established TCP connection, read with TCP_REPAIR (which needs CAP_NET_ADMIN) while its
      process was frozen, and made again the same way: the queues' sequence numbers, the bytes
      in each queue, the options agreed with the peer and the window.
    seq:
      - id: snd_seq
        type: u4
        doc: Sequence number of the first byte of `send_queue` (snd_una).
      - id: rcv_seq
        type: u4
        doc: Sequence number of the first byte of `recv_queue` (the next byte the program reads).
      - id: mss
        type: u4
        doc: Maximum segment size (TCP_MAXSEG).
      - id: options
        type: u4
        doc: 'Options agreed with the peer (tcp_info.tcpi_options: 1 timestamps, 2 SACK, 4 window scaling).'
      - id: snd_wscale
        type: u4
        doc: Send window scale.
      - id: rcv_wscale
        type: u4
        doc: Receive window scale.
      - id: timestamp
        type: u4
        doc: The connection's TCP timestamp clock (TCP_TIMESTAMP).
      - id: snd_wl1
        type: u4
        doc: Window fields of TCP_REPAIR_WINDOW.
      - id: snd_wnd
        type: u4
        doc: Send window.
      - id: max_window
        type: u4
        doc: Largest window the peer offered.
      - id: rcv_wnd
        type: u4
        doc: Receive window.
      - id: rcv_wup
        type: u4
        doc: rcv_nxt at the last window update.
      - id: send_queue
        type: lbytes
        doc: Bytes written and not acknowledged by the peer yet (sent again after restore).
      - id: recv_queue
        type: lbytes
        doc: Bytes received and not read by the program yet.

  fd_tty:
    doc: A terminal; restore reattaches it according to `ckpt restore --stdio`.
    seq:
      - id: rdev
        type: u8
        -ckpt-display: hex
        doc: Device number of the terminal.

  fd_signalfd:
    doc: A signalfd (its O_NONBLOCK is in the file's `flags`).
    seq:
      - id: mask
        type: u8
        -ckpt-display: hex
        doc: The signals it reads, bit N-1 for signal N (sigmask in /proc/PID/fdinfo).

  fd_timerfd:
    doc: |
      A timerfd: its clock, how it was armed, and the expirations not yet read. Restore arms it
      again with the same remaining time (a relative timer) or the same expiry (TFD_TIMER_ABSTIME),
      and gives back the unread ticks (TFD_IOC_SET_TICKS).
    seq:
      - id: clock_id
        type: s4
        enum: clock_id
        doc: The clock it counts on (timerfd_create's clockid).
      - id: settime_flags
        type: u4
        -ckpt-flags: timerfd_settime_flags
        doc: The flags of its last timerfd_settime (TFD_TIMER_ABSTIME = 1, TFD_TIMER_CANCEL_ON_SET = 2).
      - id: ticks
        type: u8
        doc: Expirations that a read(2) would return now (ticks in fdinfo).
      - id: interval_ns
        type: u8
        doc: Its period in ns, 0 for a one-shot timer.
      - id: value_ns
        type: u8
        doc: |
          Time to the next expiry in ns at the checkpoint (0: disarmed). With TFD_TIMER_ABSTIME
          the absolute expiry on its clock instead.

  fd_inotify:
    doc: An inotify instance and its watches.
    seq:
      - id: count
        type: u4
        valid:
          expr: '_ * 28 <= _io.size - _io.pos'
        doc: Number of watches.
      - id: watches
        type: inotify_watch
        repeat: expr
        repeat-expr: count
        doc: The watches, in the order of their watch descriptors.

  inotify_watch:
    doc: |
      One inotify watch. Restore adds the watches in order of `wd`, so that each gets its
      number again (the kernel gives the next free one), and refuses a number it cannot give.
    seq:
      - id: wd
        type: s4
        doc: The watch descriptor, as inotify_add_watch returned it.
      - id: mask
        type: u4
        -ckpt-display: hex
        doc: The events watched (IN_MODIFY = 2, IN_CREATE = 0x100, ...; IN_ONESHOT, IN_EXCL_UNLINK).
      - id: ino
        type: u8
        doc: Inode of the watched file.
      - id: dev
        type: u8
        -ckpt-display: hex
        doc: Device of the watched file (st_dev).
      - id: reserved
        type: u4
        doc: Zero.
      - id: path
        type: lstr
        doc: Path of the watched file, found by its inode where the kernel gives only a handle.

  fd_fanotify:
    doc: |
      A fanotify group and its marks. Restore makes the group with the same flags and adds the
      marks again on the same files, mounts and filesystems (their paths); a mark whose path a
      user's dump cannot find is refused by name, and one that the restoring user may not make
      (mount and filesystem marks need CAP_SYS_ADMIN) fails the restore. Queued events and
      permission requests not yet answered are not kept.
    seq:
      - id: init_flags
        type: u4
        -ckpt-display: hex
        doc: fanotify_init's flags (FAN_CLASS_*, FAN_REPORT_*, FAN_UNLIMITED_*), from fdinfo.
      - id: event_flags
        type: u4
        -ckpt-display: octal
        doc: fanotify_init's event_f_flags, the open flags of the fds in events.
      - id: count
        type: u4
        valid:
          expr: '_ * 40 <= _io.size - _io.pos'
        doc: Number of marks.
      - id: marks
        type: fanotify_mark
        repeat: expr
        repeat-expr: count
        doc: The marks.

  fanotify_mark:
    doc: One fanotify mark.
    seq:
      - id: kind
        type: u4
        enum: fanotify_mark_kind
        doc: What it marks.
      - id: mark_flags
        type: u4
        -ckpt-display: hex
        doc: FAN_MARK_* flags of the mark (FAN_MARK_IGNORED_SURV_MODIFY, FAN_MARK_EVICTABLE, ...).
      - id: mask
        type: u4
        -ckpt-display: hex
        doc: The events it reports (FAN_MODIFY = 2, FAN_CLOSE_WRITE = 8, ...).
      - id: ignored_mask
        type: u4
        -ckpt-display: hex
        doc: The events it ignores.
      - id: ino
        type: u8
        doc: Inode of the marked file (an inode mark), else 0.
      - id: dev
        type: u8
        -ckpt-display: hex
        doc: Device of the marked file or filesystem (st_dev), else 0.
      - id: mnt_id
        type: u4
        doc: The marked mount's id (a mount mark), else 0.
      - id: reserved
        type: u4
        doc: Zero.
      - id: path
        type: lstr
        doc: Path of the marked file, or the mount point of the marked mount or filesystem.

  timers:
    doc: The interval timers of a process (setitimer) and its timer slack.
    seq:
      - id: itimers
        type: itimer
        repeat: expr
        repeat-expr: 3
        doc: ITIMER_REAL, ITIMER_VIRTUAL and ITIMER_PROF, as getitimer(2) reads them.
        -ckpt-index-enum: itimer_which
      - id: timer_slack_ns
        type: u8
        doc: The timer slack of the main thread in ns (PR_GET_TIMERSLACK).

  itimer:
    doc: One interval timer; 0 and 0 when it is not armed.
    seq:
      - id: interval_ns
        type: u8
        doc: Its period in ns (it_interval), 0 for a one-shot timer.
      - id: value_ns
        type: u8
        doc: Time to its next expiry in ns (it_value) at the checkpoint; restore arms it again with it.

  posix_timer:
    doc: |
      One POSIX timer of the process (timer_create). Restore creates it with the same id, clock
      and notification, and arms it with the remaining time of the checkpoint.
    seq:
      - id: id
        type: s4
        valid:
          min: 0
        doc: The timer id that timer_create returned (timer_t), as /proc/PID/timers lists it.
      - id: clock_id
        type: s4
        enum: clock_id
        doc: Its clock (a negative value is a CPU-time clock of a process or thread).
      - id: notify
        type: s4
        enum: sigev_notify
        doc: How an expiry is told (sigev_notify). SIGEV_THREAD of glibc is SIGEV_THREAD_ID to its helper thread.
      - id: signo
        type: s4
        enum: signal
        doc: The signal sent at expiry (sigev_signo).
      - id: sival
        type: u8
        -ckpt-display: hex
        doc: The value the signal carries (sigev_value, si_value of the siginfo).
      - id: target_tid
        type: u4
        doc: The thread that gets the signal with SIGEV_THREAD_ID, else 0.
      - id: overrun
        type: s4
        doc: Its overrun count (timer_getoverrun) at the checkpoint; informational, the kernel cannot be told it.
      - id: interval_ns
        type: u8
        doc: Its period in ns (it_interval), 0 for a one-shot timer.
      - id: value_ns
        type: u8
        doc: Time to its next expiry in ns (timer_gettime's it_value) at the checkpoint, 0 when disarmed.

  process_attrs:
    doc: Per-process attributes of prctl(2) and /proc that a program may set for itself.
    seq:
      - id: oom_score_adj
        type: s4
        valid:
          min: -1000
          max: 1000
        doc: /proc/PID/oom_score_adj, -1000 to 1000. Lowering it needs CAP_SYS_RESOURCE.
      - id: pdeathsig
        type: s4
        enum: signal
        doc: The signal the main thread gets when its parent dies (PR_GET_PDEATHSIG), 0 for none.
      - id: thp_disable
        type: u4
        doc: 1 when transparent huge pages are disabled for the process (PR_GET_THP_DISABLE).
      - id: dumpable
        type: u4
        doc: PR_GET_DUMPABLE (0 or 1).
      - id: child_subreaper
        type: u4
        doc: 1 when the process is a child subreaper (PR_GET_CHILD_SUBREAPER).
      - id: mce_kill
        type: s4
        doc: The machine-check kill policy (PR_MCE_KILL_GET); 2 is the system default.
      - id: tsc
        type: u4
        doc: Whether rdtsc is allowed (PR_GET_TSC; 1 PR_TSC_ENABLE, 2 PR_TSC_SIGSEGV).
      - id: keep_caps
        type: u4
        doc: PR_GET_KEEPCAPS (0 or 1).
      - id: cap_inheritable
        type: u8
        -ckpt-display: hex
        doc: CapInh of /proc/PID/status. Restored only when root restores root's own image, and only by dropping.
      - id: cap_permitted
        type: u8
        -ckpt-display: hex
        doc: CapPrm of /proc/PID/status.
      - id: cap_effective
        type: u8
        -ckpt-display: hex
        doc: CapEff of /proc/PID/status.
      - id: cap_bounding
        type: u8
        -ckpt-display: hex
        doc: CapBnd of /proc/PID/status.
      - id: cap_ambient
        type: u8
        -ckpt-display: hex
        doc: CapAmb of /proc/PID/status.

  seccomp_filter:
    doc: |
      One seccomp filter of the process (every thread has the same ones), read with
      PTRACE_SECCOMP_GET_FILTER, which needs CAP_SYS_ADMIN: a user's dump refuses a process in
      filter mode. Restore installs the filters in order with SECCOMP_FILTER_FLAG_TSYNC, as the
      last thing before the process runs.
    seq:
      - id: index
        type: u4
        doc: Its place in the chain, 0 for the first installed.
      - id: flags
        type: u4
        -ckpt-flags: seccomp_filter_flags
        doc: Its flags (PTRACE_SECCOMP_GET_METADATA); SECCOMP_FILTER_FLAG_LOG = 2.
      - id: count
        type: u4
        valid:
          expr: '_ >= 1 and _ <= 4096 and _ * 8 <= _io.size - _io.pos'
        doc: Number of BPF instructions (at most BPF_MAXINSNS, 4096).
      - id: insns
        type: bpf_insn
        repeat: expr
        repeat-expr: count
        doc: The classic BPF program.

  bpf_insn:
    doc: One classic BPF instruction (struct sock_filter).
    seq:
      - id: code
        type: u2
        -ckpt-display: hex
        doc: The operation.
      - id: jt
        type: u1
        doc: Jump offset when true.
      - id: jf
        type: u1
        doc: Jump offset when false.
      - id: k
        type: u4
        -ckpt-display: hex
        doc: The operand.

  sigactions:
    doc: The signal handlers of a process.
    seq:
      - id: count
        type: u4
        valid:
          expr: '_ <= 64 and _ * 32 <= _io.size - _io.pos'
        doc: Number of entries (64 on x86_64, the kernel's signals).
      - id: actions
        type: sigaction
        repeat: expr
        repeat-expr: count
        doc: One entry per signal, signal 1 first.
        -ckpt-index-enum: signal
        -ckpt-index-base: 1

  sigaction:
    doc: The kernel's struct sigaction for one signal.
    seq:
      - id: handler
        type: u8
        -ckpt-display: hex
        doc: Handler address, or 0 (SIG_DFL) or 1 (SIG_IGN).
      - id: flags
        type: u8
        -ckpt-display: hex
        doc: SA_* flags.
      - id: restorer
        type: u8
        -ckpt-display: hex
        doc: Signal return trampoline (SA_RESTORER).
      - id: mask
        type: u8
        -ckpt-display: hex
        doc: Signals blocked while the handler runs.

  pending_signals:
    doc: |
      Signals queued and not yet delivered: process-wide when the parent is a `process`,
      for one thread when the parent is a `thread`.
    seq:
      - id: count
        type: u4
        valid:
          expr: '_ * 128 <= _io.size - _io.pos - 4'
        doc: Number of queued signals.
      - id: reserved
        type: u4
        doc: Zero.
      - id: signals
        type: siginfo
        repeat: expr
        repeat-expr: count
        doc: The queued siginfos, oldest first.

  siginfo:
    doc: A 128-byte siginfo_t as PTRACE_PEEKSIGINFO returns it.
    seq:
      - id: si_signo
        type: s4
        enum: signal
        doc: Signal number.
      - id: si_errno
        type: s4
        doc: Error number.
      - id: si_code
        type: s4
        doc: Signal code (SI_USER = 0, SI_QUEUE = -1, SI_TKILL = -6, ...).
      - id: pad
        type: u4
        doc: Alignment.
      - id: fields
        size: 112
        doc: The union of signal-specific fields.

  unsupported:
    doc: Something the checkpointer could not capture. Restore warns about each one.
    seq:
      - id: what
        type: u2
        enum: unsupported_kind
        doc: What kind of state it is.
      - id: reserved
        type: u2
        doc: Zero.
      - id: fd
        type: s4
        doc: The descriptor number when it is a file, else -1.
      - id: addr
        type: u8
        -ckpt-display: hex
        doc: The address when it is memory, else 0.
      - id: reason
        type: lstr
        doc: Why it could not be captured.
      - id: detail
        type: lstr
        doc: What it is, e.g. the /proc fd link or the mapping path.

enums:
  record_type:
    1: head
    2: tail
    3: pad
    10: process
    11: thread
    12: zombie
    20: mm
    21: vma
    22: pagemap
    23: pages
    24: pages_zstd
    30: files
    31: fd
    32: file
    40: sigactions
    41: pending_signals
    42: timers
    43: posix_timer
    44: process_attrs
    45: seccomp_filter
    50: unsupported
    36: file_content
    37: file_extent
    38: file_lock
    70: file_data
    80: build_id

  record_flags:
    1: page_hashed
    2: compressed

  image_flags:
    1: left_running
    2: killed
    4: incremental
    8: has_unsupported
    16: snapshot
    32: compressed
    64: precopy

  arch:
    62: x86_64

  # Not in images: the exit status of the `ckpt` command, declared here so that the C checkpointer
  # (EXIT_* in build/native/ckpt_format.h, see meta/-ckpt-c-enum-prefix), the extension (ExitCode
  # in src/image/format.ts) and the README's table share one list. The docs are the README's words.
  exit_code:
    0:
      id: ok
      doc: success
    1:
      id: fail
      doc: anything else (the message says what)
    2:
      id: usage
      doc: usage error, or the output image exists (without --force)
    3:
      id: noproc
      doc: no such process
    4:
      id: perm
      doc: permission denied
    5:
      id: unsupported
      doc: unsupported state (the process holds something ckpt cannot save or restore)
    6:
      id: badimage
      doc: bad image (truncated, corrupted or hostile; the message names the record and offset)
    7:
      id: io
      doc: I/O error (e.g. the disk is full)
    8:
      id: cancelled
      doc: cancelled (SIGTERM or SIGINT); a dump leaves the process as it was

  process_flags:
    1: dumpable
    2: no_new_privs
    4: child_subreaper
    8: stopped

  thread_flags:
    1: main_thread
    2: in_syscall

  xstate_kind:
    0: none
    1: fxsave
    2: xsave

  vma_prot:
    1: read
    2: write
    4: exec

  vma_flags:
    1: shared
    2: grows_down
    4: locked
    8: dont_dump
    16: dont_fork
    32: wipe_on_fork
    64: file_deleted
    128: nonlinear_io
    256: huge_page
    512: no_huge_page
    1024: lock_on_fault
    32768: may_write

  vma_kind:
    0: unknown
    1: anon_private
    2: anon_shared
    3: file_private
    4: file_shared
    5: heap
    6: stack
    7: vdso
    8: vvar
    9: vvar_vclock
    10: vsyscall
    11: device

  build_id_source:
    1: {id: file, doc: "the file at the VMA's path, its device and inode checked"}
    2: {id: map_files, doc: "the mapped file itself, through /proc/PID/map_files (its path may be gone)"}
    3: {id: memory, doc: "the process's memory, where the file maps its headers and notes"}

  content_flags:
    1: memfd
    2: tmpfile
    4: hugetlb

  lock_kind:
    1: flock
    2: posix
    3: ofd

  lock_type:
    1: read
    2: write

  page_run_flags:
    1: file_backed

  socket_flags:
    1: listening
    2: peer_closed
    4: reset
    8: pending
    16: accepted
    32: reuseaddr
    64: reuseport
    128: v6only
    256: repaired

  fd_kind:
    0: unknown
    1: regular
    2: directory
    3: chr
    4: blk
    5: fifo
    6: pipe
    7: tty
    8: eventfd
    9: epoll
    10: socket
    11: signalfd
    12: timerfd
    13: inotify
    14: io_uring
    15: memfd
    16: fanotify

  unsupported_kind:
    1: fd
    2: vma
    3: seccomp
    4: tcp_socket
    5: io_uring
    6: timer
    7: other
    8: fanotify
    9: seccomp_filter
    10: unix_socket
    11: inet_socket
    12: file_content
    13: file_lock

  fanotify_mark_kind:
    0: inode
    1: mount
    2: filesystem

  itimer_which:
    0: real
    1: virtual
    2: prof

  clock_id:
    0: realtime
    1: monotonic
    2: process_cputime
    3: thread_cputime
    4: monotonic_raw
    5: realtime_coarse
    6: monotonic_coarse
    7: boottime
    8: realtime_alarm
    9: boottime_alarm
    11: tai

  sigev_notify:
    0: signal
    1: none
    2: thread
    4: thread_id

  seccomp_filter_flags:
    1: tsync
    2: log
    4: spec_allow

  timerfd_settime_flags:
    1: abstime
    2: cancel_on_set

  signal:
    1: sighup
    2: sigint
    3: sigquit
    4: sigill
    5: sigtrap
    6: sigabrt
    7: sigbus
    8: sigfpe
    9: sigkill
    10: sigusr1
    11: sigsegv
    12: sigusr2
    13: sigpipe
    14: sigalrm
    15: sigterm
    16: sigstkflt
    17: sigchld
    18: sigcont
    19: sigstop
    20: sigtstp
    21: sigttin
    22: sigttou
    23: sigurg
    24: sigxcpu
    25: sigxfsz
    26: sigvtalrm
    27: sigprof
    28: sigwinch
    29: sigio
    30: sigpwr
    31: sigsys

  process_state:
    # The letters of /proc/PID/stat, by their ASCII code; each doc is what the letter means.
    82: {id: running, doc: "running or runnable"}
    83: {id: sleeping, doc: "sleeping, interruptibly"}
    68: {id: disk_sleep, doc: "waiting, uninterruptibly (usually I/O)"}
    84: {id: stopped, doc: "stopped by a signal"}
    116: {id: tracing_stop, doc: "stopped by its tracer"}
    90: {id: zombie, doc: "exited, not reaped yet"}
    88: {id: dead, doc: "dead"}
    73: {id: idle, doc: "an idle kernel thread"}
    80: {id: parked, doc: "parked"}

  rlimit_resource:
    0: cpu
    1: fsize
    2: data
    3: stack
    4: core
    5: rss
    6: nproc
    7: nofile
    8: memlock
    9: as
    10: locks
    11: sigpending
    12: msgqueue
    13: nice
    14: rtprio
    15: rttime

  auxv_type:
    0: at_null
    3: at_phdr
    4: at_phent
    5: at_phnum
    6: at_pagesz
    7: at_base
    8: at_flags
    9: at_entry
    11: at_uid
    12: at_euid
    13: at_gid
    14: at_egid
    15: at_platform
    16: at_hwcap
    17: at_clktck
    23: at_secure
    24: at_base_platform
    25: at_random
    26: at_hwcap2
    27: at_rseq_feature_size
    28: at_rseq_align
    29: at_hwcap3
    30: at_hwcap4
    31: at_execfn
    33: at_sysinfo_ehdr
    51: at_minsigstksz
