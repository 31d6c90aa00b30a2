"""Data views (``data/views=...``): what columns an example becomes before it is encoded (ESimCSE's word
repetition). One file each, plus a YAML in conf/data/views/."""
