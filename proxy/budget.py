"""A spending cap for one run (`--budget USD`): the proxy adds up what each call cost and refuses the next
request once the total reaches the cap. Requests already streaming finish: a stop never cuts an answer."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from .errors import ProxyError, final

log = logging.getLogger("orbridge.proxy")
WARN_AT = 0.8  # one warning line in proxy.log when this share of the cap is spent


@dataclass
class Budget:
    """What this run may still spend. `unknown` counts calls no price was known for (they add $0)."""

    cap: float
    spent: float = 0.0
    unknown: int = 0
    warned: bool = False

    def add(self, cost: float | None, answered: bool) -> None:
        """Count one finished call: its cost, or (for a call that was answered) an unknown price. Called on the
        proxy's event loop (CallLog.done), like CallLog's own counters."""
        if cost is not None:
            self.spent += cost
        elif answered:
            self.unknown += 1
        crossed = not self.warned and self.spent >= WARN_AT * self.cap
        self.warned = self.warned or crossed
        if crossed:
            log.warning("orbridge budget: %s of %s spent (%.0f%%); requests stop at %s", usd(self.spent),
                        usd(self.cap), 100 * self.spent / self.cap, usd(self.cap))

    def refusal(self) -> ProxyError | None:
        """The final error for a request that would start with the cap reached, else None. 402 billing_error
        (Anthropic's own type for it): Claude Code 2.1.332 shows it and stops, where it sends a 400 again
        five times (the e2e test counts)."""
        if self.spent < self.cap:
            return None
        return final(402, "billing_error", f"orbridge budget of {usd(self.cap)} reached "
                     f"({usd(self.spent)} spent in this run) — rerun with a higher --budget")

    def fields(self) -> dict:
        """What each request-log line of a budgeted run carries, for `orbridge statusline`."""
        unknown = {"budget_unpriced": self.unknown} if self.unknown else {}
        return {"budget": self.cap, "budget_spent": round(self.spent, 8), **unknown}


def usd(value: float) -> str:
    """Dollars as a person writes them: two decimals, more only for amounts under a cent."""
    return f"${value:.2f}" if value >= 0.01 or value == 0 else f"${value:.4f}"
