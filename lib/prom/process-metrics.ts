/**
 * The process's own metrics, under the names prom-client's defaults use so dashboards built on
 * them keep working: CPU, resident memory, V8 heap, open file descriptors, start time and
 * Node's version. Everything is read at scrape time: no timer and no GC observer runs between
 * scrapes, so an idle sidecar's event loop stays idle (prom-client's defaults sample the event
 * loop delay every 10 ms and observe every garbage collection).
 */
import { readdirSync } from 'node:fs';
import { Counter } from './counter.ts';
import { Gauge } from './gauge.ts';
import type { Registry } from './registry.ts';

function openFds(): number | undefined {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return undefined;
  }
}

export function registerProcessMetrics(registry: Registry): void {
  const registers = [registry];
  const startSeconds = Math.round(Date.now() / 1000 - process.uptime());
  const cpu = (name: string, help: string, read: (u: NodeJS.CpuUsage) => number): void => {
    new Counter({
      name,
      help,
      registers,
      collect() {
        this.reset();
        this.inc(read(process.cpuUsage()) / 1e6);
      },
    });
  };
  cpu('process_cpu_user_seconds_total', 'Total user CPU time spent in seconds.', (u) => u.user);
  cpu('process_cpu_system_seconds_total', 'Total system CPU time spent in seconds.', (u) => u.system);
  cpu('process_cpu_seconds_total', 'Total user and system CPU time spent in seconds.', (u) => u.user + u.system);
  new Gauge({
    name: 'process_start_time_seconds',
    help: 'Start time of the process since unix epoch in seconds.',
    registers,
    collect() {
      this.set(startSeconds);
    },
  });
  new Gauge({
    name: 'process_resident_memory_bytes',
    help: 'Resident memory size in bytes.',
    registers,
    collect() {
      this.set(process.memoryUsage.rss());
    },
  });
  new Gauge({
    name: 'process_open_fds',
    help: 'Number of open file descriptors.',
    registers,
    collect() {
      this.reset();
      const n = openFds();
      if (n !== undefined) this.set(n);
    },
  });
  const heap = (name: string, help: string, read: (m: NodeJS.MemoryUsage) => number): void => {
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read(process.memoryUsage()));
      },
    });
  };
  heap('nodejs_heap_size_total_bytes', 'Process heap size from Node.js in bytes.', (m) => m.heapTotal);
  heap('nodejs_heap_size_used_bytes', 'Process heap size used from Node.js in bytes.', (m) => m.heapUsed);
  heap('nodejs_external_memory_bytes', 'Node.js external memory size in bytes.', (m) => m.external);
  const [major, minor, patch] = process.versions.node.split('.').map(Number);
  new Gauge({
    name: 'nodejs_version_info',
    help: 'Node.js version info.',
    labelNames: ['version', 'major', 'minor', 'patch'],
    registers,
    collect() {
      this.set({ version: process.version, major, minor, patch }, 1);
    },
  });
}
