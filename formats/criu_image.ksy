meta:
  id: criu_image
  title: CRIU checkpoint image file (the framing around its protobuf messages)
  file-extension: img
  license: MIT
  endian: le
doc: |
  One file of a CRIU checkpoint directory (`criu dump -D DIR`, or the `checkpoint/` folder of a
  Podman, CRI-O or containerd checkpoint archive). CRIU writes one such file per kind of state:
  `inventory.img`, `pstree.img`, `core-TID.img`, `mm-PID.img`, `pagemap-PID.img`, `files.img`,
  `fdinfo-ID.img`, and many more.

  A file starts with magic numbers: most with the common magic `img_common`, then the magic of
  their kind; the service files (`stats-dump`) with `img_service` and then theirs; `inventory.img`
  with its own magic alone. Then comes a stream of entries: a little-endian u4 length and that
  many bytes of one protobuf message, to the end of the file. The message types are CRIU's
  schemas (this project reads the messages declared in `formats/criu/*.proto`); which type a
  file holds follows from its magic. `pagemap` files differ in one way: their first message is a
  head (which pages file holds their pages), every later one a run of pages.

  A few kinds follow some messages with raw bytes whose length the message itself states, and
  which this framing therefore cannot find on its own: `pipes-data.img` (a pipe's buffered bytes,
  `bytes` of them) and `sk-queues.img` (a queued socket packet, `length` bytes). The reader
  decodes those messages to skip their data; a stream of such a file reads correctly here only
  when every such message states zero.

  Page data is not framed at all: `pages-N.img` holds whole pages, back to back, with no magic
  and no message. The `pagemap` file whose head names `N` says which virtual addresses they are:
  each of its runs with the `present` flag takes the next `nr_pages` pages of the file, in order.
  Runs with the `parent` flag are in the pages of the previous (pre-dump) checkpoint, found
  through the `parent` link beside the images; `lazy` runs without `present` were left for the
  lazy-pages server and are not in any file.
seq:
  - id: head
    type: file_head
  - id: entries
    type: entry
    repeat: eos
types:
  file_head:
    doc: The magic numbers at the start of a protobuf image file.
    seq:
      - id: magic
        type: u4
        enum: magic
        doc: |
          `img_common` or `img_service`, followed by the kind's own magic; or, for the inventory,
          the kind's magic alone.
      - id: kind_magic
        type: u4
        enum: magic
        if: magic == magic::img_common or magic == magic::img_service
        doc: The magic of the kind of image (which message type its entries hold).
  entry_head:
    doc: The length prefix of one entry.
    seq:
      - id: len
        type: u4
        doc: Length of the protobuf message that follows, in bytes.
  entry:
    doc: One entry of an image file.
    seq:
      - id: head
        type: entry_head
      - id: message
        size: head.len
        doc: One protobuf message of the type the file's magic names.
enums:
  magic:
    0x54564319: img_common
    0x55105940: img_service
    0x58313116: inventory
    0x50273030: pstree
    0x55053847: core
    0x54432030: ids
    0x57492820: mm
    0x56084025: pagemap
    0x56303138: files
    0x56213732: fdinfo
    0x51403912: fs
    0x56453709: pipes_data
    0x56264026: sk_queues
    0x64413049: seccomp
    0x43114433: timens
    0x57093306: stats
    0x54473203: utsns
    0x53115007: ipc_var
    0x59383330: cgroup
    0x55563928: mnts
  # The bits of a pagemap run's `flags` (its protobuf message holds them as a u4).
  pagemap_flags:
    1: parent
    2: lazy
    4: present
