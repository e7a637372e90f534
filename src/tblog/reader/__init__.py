"""Reading runs back as TensorBoard shows them: ``tblog.read``, ``runs``, ``scalars``,
``histograms``, ``hparams``."""
