"""Village video terminals (视频终端): the registered set-top boxes residents use."""
