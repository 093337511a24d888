package systemd

import (
	"fmt"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Ready tells systemd (Type=notify) that the daemon is serving: call it once
// the replica holds its first snapshot. Without NOTIFY_SOCKET it does
// nothing.
func Ready() error { return notify(daemon.SdNotifyReady) }

// Reloading tells systemd that the daemon has begun to reload its
// configuration; Ready must follow when it is done, whether the reload
// worked or not. MONOTONIC_USEC is what systemd 253 and later require of a
// Type=notify-reload service's RELOADING=1, and older ones ignore.
func Reloading() error {
	return notify(daemon.SdNotifyReloading + "\n" + daemon.SdNotifyMonotonicUsec())
}

// Stopping tells systemd that the daemon has begun to shut down and drain.
// Without NOTIFY_SOCKET it does nothing.
func Stopping() error { return notify(daemon.SdNotifyStopping) }

// notify sends one state datagram to NOTIFY_SOCKET. The variable is kept
// (not unset) because Stopping and the watchdog need it later.
func notify(state string) error {
	if _, err := daemon.SdNotify(false, state); err != nil {
		return fmt.Errorf("notify systemd %s: %w", state, err)
	}
	return nil
}
