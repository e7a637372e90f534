"""The torch / tensorboardX front-end: ``tblog.SummaryWriter``, its FileWriter surface and graphs."""
