/* The /stats page: polls /api/stats and draws it. Plain browser JavaScript, no build step; every
 * string from the server goes in through textContent, never innerHTML (batch specs are user input). */
(function () {
  'use strict';

  var POLL_MS = 2000;
  var css = getComputedStyle(document.documentElement);
  var color = function (name) { return css.getPropertyValue(name).trim(); };
  var COLORS = {
    completed: '#16a34a',
    failed: '#dc2626',
    rate: '#2563eb',
    wait: '#d97706',
    fetch: '#0891b2',
    total: '#7c3aed',
  };

  // ---------------------------------------------------------------------------------------------
  // Formatting
  // ---------------------------------------------------------------------------------------------

  var integer = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
  var oneDecimal = new Intl.NumberFormat(undefined, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  var clock = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  var clockMinutes = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });

  function rate(v) {
    if (v === 0) return '0';
    return v >= 100 ? integer.format(v) : oneDecimal.format(v);
  }

  function ms(v) {
    if (v < 1000) return integer.format(v) + ' ms';
    if (v < 60000) return (v / 1000).toFixed(v < 10000 ? 2 : 1) + ' s';
    return duration(v / 1000);
  }

  /** 75 → "1m 15s", 4000 → "1h 06m". */
  function duration(seconds) {
    var s = Math.max(0, Math.round(seconds));
    if (s < 60) return s + 's';
    var m = Math.floor(s / 60);
    if (m < 60) return m + 'm ' + String(s % 60).padStart(2, '0') + 's';
    var h = Math.floor(m / 60);
    if (h < 48) return h + 'h ' + String(m % 60).padStart(2, '0') + 'm';
    return Math.floor(h / 24) + 'd ' + (h % 24) + 'h';
  }

  function ago(t, now) {
    var s = (now - t) / 1000;
    return s < 5 ? 'just now' : duration(s) + ' ago';
  }

  function bucketLabel(upperMs, previousMs) {
    if (upperMs === null) return '> ' + short(previousMs);
    return '≤ ' + short(upperMs);
  }

  function short(v) {
    if (v < 1000) return v + ' ms';
    if (v < 60000) return v / 1000 + ' s';
    return v / 60000 + ' min';
  }

  // ---------------------------------------------------------------------------------------------
  // DOM helpers
  // ---------------------------------------------------------------------------------------------

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        if (k === 'text') node.textContent = attrs[k];
        else if (k === 'class') node.className = attrs[k];
        else node.setAttribute(k, attrs[k]);
      });
    }
    (children || []).forEach(function (c) {
      if (c !== null && c !== undefined) node.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    });
    return node;
  }

  function setText(id, text, className) {
    var node = document.getElementById(id);
    node.textContent = text;
    if (className !== undefined) node.className = node.className.split(' ').filter(function (c) { return c.indexOf('tile-') === 0; }).concat(className ? [className] : []).join(' ');
  }

  /** A progress bar: `parts` are [fraction, extra class] drawn one after another. */
  function bar(parts, label, title) {
    var track = el('div', { class: 'bar-track' });
    parts.forEach(function (p) {
      var fill = el('div', { class: 'bar-fill' + (p[1] ? ' ' + p[1] : '') });
      fill.style.width = Math.max(0, Math.min(100, p[0] * 100)).toFixed(2) + '%';
      track.appendChild(fill);
    });
    var wrap = el('div', { class: 'bar' }, [track, el('span', { class: 'bar-label', text: label })]);
    if (title) wrap.title = title;
    return wrap;
  }

  function fillTable(id, rows, emptyMessage, columns) {
    var body = document.querySelector('#' + id + ' tbody');
    body.replaceChildren();
    if (rows.length === 0) {
      body.appendChild(el('tr', null, [el('td', { class: 'empty', colspan: String(columns), text: emptyMessage })]));
      return;
    }
    rows.forEach(function (cells) {
      body.appendChild(el('tr', null, cells.map(function (c) {
        if (c instanceof Node) return c.tagName === 'TD' ? c : el('td', null, [c]);
        return el('td', { text: String(c) });
      })));
    });
  }

  function td(content, className) {
    return el('td', className ? { class: className } : null, [content]);
  }

  // ---------------------------------------------------------------------------------------------
  // Charts (chart.js, served from the package's own node_modules)
  // ---------------------------------------------------------------------------------------------

  var charts = {};

  function setupCharts() {
    Chart.defaults.color = color('--muted');
    Chart.defaults.borderColor = color('--border');
    Chart.defaults.font.family = color('--font');
    Chart.defaults.animation = false;
    Chart.defaults.maintainAspectRatio = false;
    var legend = { position: 'top', align: 'end', labels: { boxWidth: 12, boxHeight: 12 } };

    charts.rate = new Chart(document.getElementById('rate-chart'), {
      type: 'line',
      data: { labels: [], datasets: [{ label: 'jobs/s', data: [], borderColor: COLORS.rate, backgroundColor: COLORS.rate + '22', fill: true, cubicInterpolationMode: 'monotone', pointRadius: 0, borderWidth: 2 }] },
      options: {
        interaction: { mode: 'index', intersect: false },
        plugins: { legend: { display: false } },
        scales: {
          x: { ticks: { maxTicksLimit: 6, maxRotation: 0 }, grid: { display: false } },
          y: { beginAtZero: true, title: { display: true, text: 'jobs/s' }, ticks: { precision: 0 } },
        },
      },
    });

    charts.minute = new Chart(document.getElementById('minute-chart'), {
      type: 'bar',
      data: {
        labels: [],
        datasets: [
          { label: 'completed', data: [], backgroundColor: COLORS.completed, stack: 'jobs' },
          { label: 'failed', data: [], backgroundColor: COLORS.failed, stack: 'jobs' },
        ],
      },
      options: {
        interaction: { mode: 'index', intersect: false },
        plugins: { legend: legend },
        scales: {
          x: { stacked: true, ticks: { maxTicksLimit: 7, maxRotation: 0 }, grid: { display: false } },
          y: { stacked: true, beginAtZero: true, title: { display: true, text: 'jobs / minute' }, ticks: { precision: 0 } },
        },
      },
    });

    charts.histogram = new Chart(document.getElementById('histogram-chart'), {
      type: 'bar',
      data: {
        labels: [],
        datasets: ['wait', 'fetch', 'total'].map(function (phase) {
          return { label: phase, data: [], backgroundColor: COLORS[phase] };
        }),
      },
      options: {
        interaction: { mode: 'index', intersect: false },
        plugins: {
          legend: legend,
          tooltip: {
            callbacks: {
              label: function (ctx) {
                var all = ctx.dataset.data.reduce(function (a, b) { return a + b; }, 0);
                var pct = all ? ' (' + ((ctx.parsed.y / all) * 100).toFixed(1) + '%)' : '';
                return ctx.dataset.label + ': ' + ctx.parsed.y + ' jobs' + pct;
              },
            },
          },
        },
        scales: {
          // Every bucket labelled: a skipped label leaves bars nobody can place.
          x: { grid: { display: false }, ticks: { autoSkip: false, maxRotation: 45 } },
          y: { beginAtZero: true, title: { display: true, text: 'jobs' }, ticks: { precision: 0 } },
        },
      },
    });
  }

  function drawThroughput(s) {
    var perSecond = s.throughput.perSecond;
    charts.rate.data.labels = perSecond.map(function (p) { return clock.format(p.t); });
    charts.rate.data.datasets[0].data = perSecond.map(function (p) { return Math.round(p.jobsPerSecond * 100) / 100; });
    charts.rate.update('none');

    var perMinute = s.throughput.perMinute;
    charts.minute.data.labels = perMinute.map(function (p, i) { return i === perMinute.length - 1 ? 'now' : clockMinutes.format(p.t); });
    charts.minute.data.datasets[0].data = perMinute.map(function (p) { return p.completed; });
    charts.minute.data.datasets[1].data = perMinute.map(function (p) { return p.failed; });
    charts.minute.update('none');
  }

  function drawHistogram(h) {
    var phases = ['wait', 'fetch', 'total'];
    // Only the buckets that hold something (and their neighbours): 16 mostly-empty bars say little.
    var first = h.upperBoundsMs.length;
    var last = -1;
    phases.forEach(function (p) {
      h[p].forEach(function (n, i) {
        if (n > 0) { first = Math.min(first, i); last = Math.max(last, i); }
      });
    });
    if (last === -1) { first = 0; last = 5; }
    first = Math.max(0, first - 1);
    last = Math.min(h.upperBoundsMs.length - 1, Math.max(last + 1, first + 5));
    var labels = [];
    for (var i = first; i <= last; i++) labels.push(bucketLabel(h.upperBoundsMs[i], h.upperBoundsMs[i - 1]));
    charts.histogram.data.labels = labels;
    phases.forEach(function (p, d) { charts.histogram.data.datasets[d].data = h[p].slice(first, last + 1); });
    charts.histogram.update('none');
  }

  // ---------------------------------------------------------------------------------------------
  // Sections
  // ---------------------------------------------------------------------------------------------

  function drawTiles(s) {
    var c = s.queue.counts;
    setText('tile-rate', rate(s.throughput.jobsPerSecond));
    setText('tile-rate-note', 'over the last ' + s.throughput.nowWindowSeconds + ' s');
    setText('tile-completed', integer.format(s.totals.completed));
    setText('tile-failed', integer.format(s.totals.failed), s.totals.failed > 0 ? 'bad' : '');
    setText('tile-failed-note', s.totals.retries ? integer.format(s.totals.retries) + ' attempts retried' : 'no retries');
    var waiting = (c.waiting || 0) + (c.prioritized || 0);
    setText('tile-waiting', integer.format(waiting));
    if (s.queue.paused) setText('tile-waiting-note', 'queue paused', 'warn');
    else setText('tile-waiting-note', (c.delayed || 0) ? integer.format(c.delayed) + ' delayed (retry backoff)' : 'none delayed', '');
    setText('tile-active', integer.format(c.active || 0));
    setText('tile-active-note', 'of ' + integer.format(s.workers.concurrency) + ' slots');
    setText('tile-workers', integer.format(s.workers.live));
    setText('tile-workers-note', s.workers.live ? 'on ' + s.workers.hosts + (s.workers.hosts === 1 ? ' host' : ' hosts') : 'none running', s.workers.live ? '' : 'warn');
    setText('tile-stored', integer.format(s.queue.stored));
  }

  function drawTiming(t, now) {
    var w = t.window;
    var note;
    if (w.jobs === 0) note = 'no finished jobs in the last hour';
    else {
      note = 'last ' + integer.format(w.jobs) + (w.jobs === 1 ? ' job' : ' jobs') + ', finished ' + clock.format(w.from) + '–' + clock.format(w.to);
      if (w.cached) note += ' (' + integer.format(w.cached) + ' from the store)';
    }
    var windowNode = document.getElementById('timing-window');
    windowNode.textContent = note;
    windowNode.title = 'Percentiles cover ' + w.description + '.';
    var rows = ['wait', 'fetch', 'total'].map(function (phase) {
      var p = t[phase];
      var name = el('span', { class: 'phase' }, [el('span', { class: 'swatch' }), phase]);
      name.firstChild.style.background = COLORS[phase];
      if (p.count === 0) return [td(name), '–', '–', '–', '–', '0'];
      return [td(name), ms(p.p50), ms(p.p95), ms(p.p99), ms(p.max), integer.format(p.count)];
    });
    fillTable('timing-table', rows, '', 6);
    document.getElementById('timing-insight').textContent = timingInsight(t);
    drawHistogram(t.histogram);
  }

  /** One sentence on where a job's time goes, so the table answers "why is it slow?". */
  function timingInsight(t) {
    if (t.total.count === 0 || t.total.p50 === 0) return '';
    var of = ' of a ' + ms(t.total.p50) + ' median job';
    if (t.wait.p50 / t.total.p50 >= 0.5) {
      return 'Most of the time is waiting in the queue (' + ms(t.wait.p50) + of + '): jobs are queued faster than the workers ' +
        'take them, held back by their concurrency or by the rate limit.';
    }
    if (t.fetch.count && t.fetch.p50 / t.total.p50 >= 0.5) {
      return 'Most of the time is the API answering (' + ms(t.fetch.p50) + of + '): more concurrency or more workers finish batches ' +
        'sooner, up to the rate limit.';
    }
    return 'Jobs start soon after they are queued: the workers keep up.';
  }

  function drawBatches(batches, now) {
    var rows = batches.map(function (b) {
      var running = b.finishedAt === null;
      // Not sealed: its producer is still adding jobs, or stopped halfway (the same spec again finishes it).
      var enqueueing = running && b.sealedAt === null;
      var notes = [];
      if (b.queued) notes.push('incl. ' + integer.format(b.queued) + ' fetched by another batch');
      if (b.stored) notes.push('+ ' + integer.format(b.stored) + ' already stored');
      var name = el('div', null, [
        el('span', { class: 'batch-spec', text: b.spec || '(no spec)' }), ' ',
        el('span', {
          class: 'badge ' + (running ? 'badge-running' : 'badge-done'),
          text: enqueueing ? 'enqueueing' : running ? 'running' : 'done',
          title: enqueueing ? 'not every id is enqueued yet; if its producer stopped, enqueue the same spec again' : '',
        }),
        el('span', { class: 'sub batch-id', text: b.batchId }),
      ]);
      var started = el('span', { text: ago(b.createdAt, now), title: new Date(b.createdAt).toLocaleString() });
      // The same numbers as enqueue --wait and status: its own jobs and the ids it waits for from other batches.
      var completed = b.completed + b.adopted.completed;
      var failed = b.failed + b.adopted.failed;
      var completedPart = b.total ? completed / b.total : 1;
      var failedPart = b.total ? failed / b.total : 0;
      var progress = el('div', null, [
        bar([[completedPart, ''], [failedPart, 'failed']], integer.format(b.done) + ' / ' + integer.format(b.total),
          integer.format(completed) + ' completed, ' + integer.format(failed) + ' failed of ' + integer.format(b.total) + ' jobs this batch waits for'),
        notes.length ? el('span', { class: 'sub', text: notes.join(', ') }) : null,
      ]);
      var speed = running ? rate(b.jobsPerSecond) + ' jobs/s' : rate(b.averageJobsPerSecond) + ' jobs/s';
      var eta;
      if (!running) eta = el('span', { class: 'none', text: 'took ' + duration((b.finishedAt - b.createdAt) / 1000) });
      else if (b.etaSeconds === null) eta = el('span', { class: 'none', text: b.done ? 'stalled' : 'waiting for workers' });
      else eta = el('span', { text: duration(b.etaSeconds) + ' left' });
      var reasons = Object.keys(b.failures).sort(function (x, y) { return b.failures[y] - b.failures[x]; });
      var failures = reasons.length
        ? el('div', null, reasons.map(function (r) { return el('span', { class: 'reason', text: r + ' ' + integer.format(b.failures[r]) }); }))
        : el('span', { class: 'none', text: failed ? integer.format(failed) : 'none' });
      return [td(name), td(started), td(progress), td(el('span', { text: speed }), 'num'), td(eta), td(failures)];
    });
    fillTable('batches-table', rows, 'No batches yet. Enqueue one: npx pokequeue enqueue 1-151 --wait', 6);
  }

  function drawWorkers(w, now) {
    var summary = w.live === 0
      ? 'none running; start one with: npx pokequeue worker'
      : integer.format(w.live) + (w.live === 1 ? ' process' : ' processes') + ' on ' + w.hosts + (w.hosts === 1 ? ' host' : ' hosts') +
        ' · concurrency ' + integer.format(w.concurrency) + ' · ' + rate(w.jobsPerSecond) + ' jobs/s together over the last minute';
    document.getElementById('workers-summary').textContent = summary;
    var rows = w.list.map(function (k) {
      return [
        td(el('span', { class: 'mono', text: k.host })),
        td(el('span', { text: String(k.pid) }), 'num'),
        td(el('b', { text: rate(k.jobsPerSecond) }), 'num'),
        td(bar([[k.concurrency ? k.inFlight / k.concurrency : 0, 'busy']], k.inFlight + ' / ' + k.concurrency)),
        td(el('span', { text: integer.format(k.completed) }), 'num'),
        td(el('span', { text: integer.format(k.failed) }), 'num'),
        td(el('span', { text: duration((now - k.startedAt) / 1000), title: 'since ' + new Date(k.startedAt).toLocaleString() })),
      ];
    });
    fillTable('workers-table', rows, 'No live workers. Start one (on any machine, same REDIS_URL): npx pokequeue worker', 7);
  }

  // ---------------------------------------------------------------------------------------------
  // Polling
  // ---------------------------------------------------------------------------------------------

  function setStatus(kind, text) {
    var node = document.getElementById('status');
    node.className = 'status status-' + kind;
    node.textContent = text;
  }

  function draw(s) {
    var now = s.generatedAt;
    drawTiles(s);
    drawThroughput(s);
    drawTiming(s.timing, now);
    drawBatches(s.batches, now);
    drawWorkers(s.workers, now);
    document.title = rate(s.throughput.jobsPerSecond) + ' jobs/s · pokequeue';
  }

  /** A request the server has not answered in this long counts as failed: it may never answer. */
  var REQUEST_TIMEOUT_MS = 5000;
  var lastLiveAt = null;

  /**
   * Only an answer with numbers read from Redis is shown as live. A failed request, a timeout or
   * an answer without Redis data turns the page to "disconnected" and greys out what it shows,
   * so numbers from before the outage never pass for current ones.
   */
  function poll() {
    var controller = typeof AbortController === 'function' ? new AbortController() : null;
    var timer = setTimeout(function () { if (controller) controller.abort(); }, REQUEST_TIMEOUT_MS);
    fetch('/api/stats', { headers: { accept: 'application/json' }, cache: 'no-store', credentials: 'same-origin', signal: controller ? controller.signal : undefined })
      .then(function (res) {
        return res.json().catch(function () { return {}; }).then(function (body) {
          if (!res.ok) throw new Error(body.error || 'HTTP ' + res.status);
          if (!body || typeof body.generatedAt !== 'number' || !body.queue) throw new Error('the answer holds no numbers from Redis');
          return body;
        });
      })
      .then(function (s) {
        draw(s);
        lastLiveAt = Date.now();
        document.body.classList.remove('stale');
        setStatus('live', 'live · updated ' + clock.format(lastLiveAt));
      })
      .catch(function (err) {
        var reason = err && err.name === 'AbortError' ? 'no answer in ' + REQUEST_TIMEOUT_MS / 1000 + ' s' : err.message;
        document.body.classList.add('stale');
        document.title = 'disconnected · pokequeue';
        setStatus('error', 'disconnected: ' + reason + ' · ' +
          (lastLiveAt === null ? 'nothing shown yet' : 'numbers below are from ' + clock.format(lastLiveAt)) + ' · retrying');
      })
      .finally(function () {
        clearTimeout(timer);
        setTimeout(poll, POLL_MS);
      });
  }

  document.addEventListener('DOMContentLoaded', function () {
    setupCharts();
    poll();
  });
})();
