"""Bot features, one module each; every module owns a `router` that `bot.dispatch` composes."""
