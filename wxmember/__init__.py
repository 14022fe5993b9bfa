"""wxmember: the membership backend behind a brand's WeChat mini-program and Official Account."""

__version__ = "0.1.0"
