"""Back-off after failed sign-ins: how long an account or a client waits before the next try.

Pure: the counts live in the record store (``sign_in_failures``, shared by every replica);
this module only decides. The wait doubles with each failure past a few free ones and is
capped, so a person who mistypes twice loses nothing, a guessing script gets a few hundred
tries a day at most, and nobody is locked out for good by someone else's failures (the cap).
A correct password during a wait is refused like a wrong one: the password is not even checked.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from myelo_cds.errors import InputError

__all__ = ["ACCOUNT_BACKOFF", "CLIENT_BACKOFF", "Backoff", "SignInThrottled"]


@dataclass(frozen=True)
class Backoff:
    """The waits for one kind of key (an account name, or a client address).

    Attributes:
        free: failures allowed without a wait.
        first_seconds: the wait after the first failure past ``free``; it doubles each failure.
        cap_seconds: the longest wait.
        forget_after: a streak of failures is forgotten after this long without a failure.
    """

    free: int
    first_seconds: float
    cap_seconds: float
    forget_after: dt.timedelta

    def wait(self, failures: int) -> dt.timedelta:
        """The wait after ``failures`` consecutive failures (zero while they are free)."""
        if failures < self.free:
            return dt.timedelta(0)
        doublings = min(failures - self.free, 40)  # 2**40 s is far past any cap
        return dt.timedelta(seconds=min(self.first_seconds * 2**doublings, self.cap_seconds))


#: Per account name (known or not, so the answer never tells which names exist): 4 free
#: failures, then 1 s, 2 s, 4 s, ... up to 15 minutes; forgotten after an hour without one.
ACCOUNT_BACKOFF = Backoff(free=4, first_seconds=1.0, cap_seconds=900.0, forget_after=dt.timedelta(hours=1))
#: Per client address: more free failures (a ward PC is shared by many people) and a shorter
#: cap, so one person's script slows that client, not the ward for long.
CLIENT_BACKOFF = Backoff(free=20, first_seconds=1.0, cap_seconds=300.0, forget_after=dt.timedelta(hours=1))


class SignInThrottled(InputError):
    """Too many failed sign-ins for this name or from this client: try again after a wait.

    The message is the same whether or not the account exists.
    """

    def __init__(self, retry_after: dt.timedelta) -> None:
        self.retry_after_seconds = max(1, math.ceil(retry_after.total_seconds()))
        super().__init__(f"too many failed sign-in attempts: try again in {self.retry_after_seconds} s")
