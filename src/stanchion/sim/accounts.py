"""Balances (free/locked per asset per account), fees and conservation bookkeeping.

Quantities are ints at scale 8. Fees are charged in the asset received and go
to a fee pool; the synthetic market maker is not an account: its net flows
are kept in ``market_maker_delta`` so that, at any time, for every asset::

    sum(free + locked over accounts) + fees[asset] + market_maker_delta[asset]
        == initial[asset] + deposits[asset]
"""

from __future__ import annotations

from stanchion.sim.types import AccountSpec, BalanceView

BPS = 10_000


class Ledger:
    """Every user account's balances."""

    def __init__(self, accounts: list[AccountSpec] | tuple[AccountSpec, ...]) -> None:
        self.specs: dict[str, AccountSpec] = {}
        self._balances: dict[str, dict[str, list[int]]] = {}
        self.fees: dict[str, int] = {}
        self.market_maker_delta: dict[str, int] = {}
        self.initial: dict[str, int] = {}
        self.deposits: dict[str, int] = {}
        self.update_time: dict[str, int] = {}
        self._dirty: dict[str, set[str]] = {}
        for spec in accounts:
            if spec.name in self.specs:
                raise ValueError(f"duplicate account name {spec.name!r}")
            if spec.maker_fee_bps < 0 or spec.taker_fee_bps < 0:
                raise ValueError(f"account {spec.name!r}: fees must not be negative")
            self.specs[spec.name] = spec
            book: dict[str, list[int]] = {}
            for asset, amount in spec.balances.items():
                if amount < 0:
                    raise ValueError(f"account {spec.name!r}: negative balance of {asset}")
                book[asset] = [amount, 0]
                self.initial[asset] = self.initial.get(asset, 0) + amount
            self._balances[spec.name] = book
            self.update_time[spec.name] = 0

    def __contains__(self, account: object) -> bool:
        return account in self._balances

    def _slot(self, account: str, asset: str) -> list[int]:
        book = self._balances[account]
        slot = book.get(asset)
        if slot is None:
            slot = book[asset] = [0, 0]
        self._dirty.setdefault(account, set()).add(asset)
        return slot

    def free(self, account: str, asset: str) -> int:
        slot = self._balances[account].get(asset)
        return slot[0] if slot else 0

    def locked(self, account: str, asset: str) -> int:
        slot = self._balances[account].get(asset)
        return slot[1] if slot else 0

    def lock(self, account: str, asset: str, amount: int) -> bool:
        """Move ``amount`` from free to locked; False (nothing changed) if short."""
        if amount > self.free(account, asset):
            return False
        slot = self._slot(account, asset)
        slot[0] -= amount
        slot[1] += amount
        return True

    def unlock(self, account: str, asset: str, amount: int) -> None:
        slot = self._slot(account, asset)
        if amount > slot[1]:
            raise AssertionError(f"unlock {amount} > locked {slot[1]} of {asset} for {account}")
        slot[1] -= amount
        slot[0] += amount

    def spend_locked(self, account: str, asset: str, amount: int) -> None:
        slot = self._slot(account, asset)
        if amount > slot[1]:
            raise AssertionError(f"spend {amount} > locked {slot[1]} of {asset} for {account}")
        slot[1] -= amount

    def credit(self, account: str, asset: str, amount: int, fee: int) -> None:
        """Credit ``amount - fee`` to free; the fee goes to the pool."""
        slot = self._slot(account, asset)
        slot[0] += amount - fee
        if fee:
            self.fees[asset] = self.fees.get(asset, 0) + fee

    def deposit(self, account: str, asset: str, amount: int) -> bool:
        """Change free balance by ``amount`` (negative: withdraw); False if it would go below 0."""
        if self.free(account, asset) + amount < 0:
            return False
        slot = self._slot(account, asset)
        slot[0] += amount
        self.deposits[asset] = self.deposits.get(asset, 0) + amount
        return True

    def market_maker(self, asset: str, delta: int) -> None:
        self.market_maker_delta[asset] = self.market_maker_delta.get(asset, 0) + delta

    def fee(self, account: str, amount: int, *, maker: bool) -> int:
        spec = self.specs[account]
        bps = spec.maker_fee_bps if maker else spec.taker_fee_bps
        return amount * bps // BPS

    def views(self, account: str) -> list[BalanceView]:
        return [BalanceView(asset, slot[0], slot[1]) for asset, slot in sorted(self._balances[account].items())]

    def has_dirty(self) -> bool:
        return bool(self._dirty)

    def take_dirty(self) -> dict[str, list[BalanceView]]:
        """Balances changed since the last call, per account (for outboundAccountPosition)."""
        out: dict[str, list[BalanceView]] = {}
        for account, assets in self._dirty.items():
            book = self._balances[account]
            out[account] = [BalanceView(a, book[a][0], book[a][1]) for a in sorted(assets)]
        self._dirty = {}
        return out

    def totals(self) -> dict[str, int]:
        """Per asset: user free+locked + fees + market maker delta (conservation check)."""
        out: dict[str, int] = {}
        for book in self._balances.values():
            for asset, (free, locked) in book.items():
                out[asset] = out.get(asset, 0) + free + locked
        for pool in (self.fees, self.market_maker_delta):
            for asset, amount in pool.items():
                out[asset] = out.get(asset, 0) + amount
        return out

    def expected_totals(self) -> dict[str, int]:
        out = dict(self.initial)
        for asset, amount in self.deposits.items():
            out[asset] = out.get(asset, 0) + amount
        return out
