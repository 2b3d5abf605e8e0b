package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// clockTick is USER_HZ, the unit of /proc's CPU times: 100 on every Linux
// architecture Go supports.
const clockTick = 100

// usage is where the box's CPU went during a scenario, in cores, and the
// service's peak resident memory. Linux only (it reads /proc); elsewhere
// the fields stay zero.
type usage struct {
	service, loadgen, other float64 // cores
	// steal is CPU the hypervisor gave to other guests: on a shared
	// machine, the part of the box the scenario never had.
	steal   float64
	peakRSS int64 // bytes
}

// cpuSample is the CPU time, in ticks, of the service, of this process and
// of the whole box at one moment.
type cpuSample struct {
	service, self, box, steal int64
	at                        time.Time
}

func sampleCPU(pid int) cpuSample {
	s := cpuSample{at: time.Now(), self: procTicks("self")}
	if pid > 0 {
		s.service = procTicks(strconv.Itoa(pid))
	}
	// /proc/stat's "cpu" line: user nice system idle iowait irq softirq
	// steal guest guest_nice. Busy is user, nice, system, irq and softirq
	// (guest time is already in user); steal is kept apart.
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		for i, f := range strings.Fields(line)[1:] {
			n, _ := strconv.ParseInt(f, 10, 64)
			switch i {
			case 0, 1, 2, 5, 6:
				s.box += n
			case 7:
				s.steal += n
			}
		}
	}
	return s
}

// procTicks is utime + stime of /proc/ID/stat.
func procTicks(id string) int64 {
	b, err := os.ReadFile("/proc/" + id + "/stat") //nolint:gosec // id is "self" or a pid number
	if err != nil {
		return 0
	}
	// The command name may hold spaces: fields count from the last ')'.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return utime + stime
}

func (a cpuSample) to(b cpuSample) usage {
	secs := b.at.Sub(a.at).Seconds() * clockTick
	if secs <= 0 {
		return usage{}
	}
	u := usage{
		service: float64(b.service-a.service) / secs,
		loadgen: float64(b.self-a.self) / secs,
	}
	u.other = max(0, float64(b.box-a.box)/secs-u.service-u.loadgen)
	u.steal = float64(b.steal-a.steal) / secs
	return u
}

// rssWatcher samples the service's resident set every 100 ms until stopped.
type rssWatcher struct {
	stop chan struct{}
	wg   sync.WaitGroup
	peak int64
}

func watchRSS(pid int) *rssWatcher {
	w := &rssWatcher{stop: make(chan struct{})}
	if pid <= 0 {
		return w
	}
	w.wg.Go(func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			w.peak = max(w.peak, rss(pid))
			select {
			case <-w.stop:
				return
			case <-t.C:
			}
		}
	})
	return w
}

// Stop ends the sampling and returns the peak in bytes.
func (w *rssWatcher) Stop() int64 {
	close(w.stop)
	w.wg.Wait()
	return w.peak
}

// rss is VmRSS from /proc/PID/status, in bytes.
func rss(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return 0
}
