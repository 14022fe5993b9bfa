"""The Official Account webhook and the mini-program message push, under `/wechat`."""
