import type { Command } from 'commander';
import { parseDashboardConfig } from '../../config/dashboard-variables';
import { ExitCode } from '../../config/errors';
import { openContext } from '../context';
import { flag, runCommand, UserFacingError } from '../run-command';

export function registerDashboard(program: Command): void {
  program
    .command('dashboard')
    .description('serve bull-board, live stats, Prometheus metrics and the records API over HTTP until SIGINT/SIGTERM')
    .option('-p, --port <n>', 'port to listen on, 0 for any free one (DASHBOARD_PORT)')
    .option('-H, --host <address>', 'interface to listen on (DASHBOARD_HOST); other than loopback needs DASHBOARD_USER and DASHBOARD_PASSWORD')
    .action((opts: { port?: string; host?: string }) =>
      runCommand({}, async (config, log) => {
        // Checked before connecting: a bad port or an exposed address changes nothing.
        const dashboard = parseDashboardConfig(process.env, {
          dashboardPort: flag(opts.port, '--port'),
          dashboardHost: flag(opts.host, '--host'),
        });
        // express, bull-board and prom-client load only here: other commands start faster without them.
        const { describeDashboard, startDashboard } = await import('../../dashboard/server');
        const ctx = await openContext(config, log, { startup: 'fail-fast' });
        try {
          const running = await startDashboard({ ...ctx, dashboard }).catch((err: NodeJS.ErrnoException) => {
            if (err.code === 'EADDRINUSE' || err.code === 'EACCES' || err.code === 'EADDRNOTAVAIL') {
              throw new UserFacingError(
                `cannot listen on ${dashboard.dashboardHost}:${dashboard.dashboardPort} (${err.code}). Pick another with --port or DASHBOARD_PORT (0 for any free port).`,
                ExitCode.failure,
              );
            }
            throw err;
          });
          process.stdout.write(`${describeDashboard(running.url)}\n`);
          await new Promise<void>((resolve) => {
            process.once('SIGINT', () => resolve());
            process.once('SIGTERM', () => resolve());
          });
          log.info('dashboard stopping');
          await running.close();
          return ExitCode.ok;
        } finally {
          await ctx.close();
        }
      }),
    );
}
