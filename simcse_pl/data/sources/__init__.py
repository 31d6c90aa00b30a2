"""Training readers (``data.source``), one file each; a new reader is one file here plus one YAML in conf/data/.

Every reader yields examples (``base.Example``): the texts of one example, or them with a label. A reader of a
local file indexes it once (``index``: every line checked, byte offsets kept) and is read by position; a stream
(``hf.HFText``) is read in order."""
