"""Real NautilusTrader backtests on synthetic seeded data: market data, strategies and the runner."""
