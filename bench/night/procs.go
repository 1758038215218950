package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is a process of the run whose memory is watched: one the harness started, or a server
// already running (Kafka, the ClickHouse engine).
type proc struct {
	name  string
	pid   int
	cmd   *exec.Cmd // nil for a server the harness did not start
	admin string    // host:port of /metrics and /debug/pprof, "" if none
	log   string
	// maxRSS and lastRSS are in bytes, sampled every second.
	maxRSS, lastRSS int64
	exited          chan struct{} // closed when a started process ends
}

// start runs a binary of .cache/bin with env added to the harness's, its output in logDir.
func start(name, bin, logDir, admin string, env []string, args ...string) (*proc, error) {
	logPath := filepath.Join(logDir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	// Killed with the harness, however it ends: an orphan would hold the ports, and the next
	// run would measure it instead of its own processes.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, err
	}
	p := &proc{name: name, pid: cmd.Process.Pid, cmd: cmd, admin: admin, log: logPath, exited: make(chan struct{})}
	go func() { cmd.Wait(); f.Close(); close(p.exited) }()
	return p, nil
}

// server is an already running process, by its pid file.
func server(name, pidFile string) (*proc, error) {
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return nil, fmt.Errorf("%s: %w (are the servers up?)", name, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("%s: pid file %s: %w", name, pidFile, err)
	}
	return &proc{name: name, pid: pid}, nil
}

func (p *proc) stop() {
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.exited:
	case <-time.After(20 * time.Second):
		p.cmd.Process.Kill()
	}
}

// rss is a memory figure of /proc/PID/status in bytes: field "VmRSS:" (resident now) or
// "VmHWM:" (its peak). The servers are one process each: kafka.sh execs the JVM, and chDB runs
// inside the adapter's Python process.
func rss(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// cpuSeconds is the process's user+system CPU time so far.
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name may hold spaces: the fields start after its closing parenthesis.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ is 100 on Linux
}

// watch samples every process's RSS each second until ctx ends.
func watch(ctx context.Context, procs []*proc) *sync.WaitGroup {
	var mu sync.Mutex
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			mu.Lock()
			for _, p := range procs {
				if r := rss(p.pid, "VmRSS:"); r > 0 {
					p.lastRSS, p.maxRSS = r, max(p.maxRSS, r)
				}
			}
			mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	})
	return &wg
}

// httpClient bounds every call to a process: one that hangs must not hang the harness.
var httpClient = &http.Client{Timeout: 30 * time.Second}

// waitReady polls url until it answers 200 — from p: p must still be running then, or
// something else answered on its address.
func waitReady(ctx context.Context, url string, p *proc) error {
	for {
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited (log: %s)", p.name, p.log)
		default:
		}
		resp, err := httpClient.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				time.Sleep(500 * time.Millisecond) // a process that cannot bind exits at once
				select {
				case <-p.exited:
					return fmt.Errorf("%s exited: is an earlier run still holding %s? (log: %s)", p.name, url, p.log)
				default:
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready at %s (log: %s)", p.name, url, p.log)
		case <-time.After(300 * time.Millisecond):
		}
	}
}
