"""Training with Lightning: the job (``run``), the module and its step, the datamodule, checkpoints, resuming,
stop signals, guards, loggers and the run record. It imports every wing below it, never ``inference`` or ``cli``."""
