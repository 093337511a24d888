package systemd

import (
	"fmt"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Ready tells systemd (Type=notify) that the daemon is serving: call it once
// the replica holds its first snapshot. Without NOTIFY_SOCKET it does
// nothing.
func Ready() error { return notify(daemon.SdNotifyReady) }

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
