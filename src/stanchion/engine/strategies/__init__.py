"""Sample strategies: a market maker with inventory skew and a TWAP taker."""
