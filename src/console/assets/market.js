// Calamari console: the live market view (the markets board and a pair's page). It connects to
// this server's own WebSocket API v2 (/v2, same origin), subscribes to ticker, book, ohlc and
// trade, and keeps the server-rendered board, quote, ladder, depth chart, trades and candles
// (drawn by the vendored lightweight-charts) live. Every book message is checked against Kraken's
// CRC32 checksum; a mismatch resubscribes. No inline script anywhere: the Content-Security-Policy
// allows only this origin's files.
"use strict";
(function () {
  // ---- exact decimals: every number of a message is kept as its text -------------------------
  function parse(text) {
    return JSON.parse(text.replace(/":(-?\d+(?:\.\d+)?)(?=[,}\]])/g, '":"$1"'));
  }
  // A decimal text with exactly d decimals (truncated, or padded with zeros).
  function fixed(s, d) {
    s = String(s);
    var neg = s.charAt(0) === "-";
    if (neg) s = s.slice(1);
    var parts = s.split(".");
    var f = ((parts[1] || "") + "0".repeat(d)).slice(0, d);
    return (neg ? "-" : "") + (parts[0] || "0") + (d > 0 ? "." + f : "");
  }
  var CRC = (function () {
    var t = [];
    for (var n = 0; n < 256; n++) {
      var c = n;
      for (var k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      t.push(c >>> 0);
    }
    return t;
  })();
  function crc32(s) {
    var c = 0xffffffff;
    for (var i = 0; i < s.length; i++) c = CRC[(c ^ s.charCodeAt(i)) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  }
  function text(el, value) {
    if (el && el.textContent !== value) el.textContent = value;
  }

  // ---- the connection: reconnects by itself and subscribes again --------------------------------
  function connect(subscriptions, onMessage) {
    var live = document.getElementById("live");
    var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/v2";
    var ws = null;
    var delay = 500;
    var api = {
      send: function (msg) {
        if (ws && ws.readyState === 1) ws.send(JSON.stringify(msg));
      },
    };
    function open() {
      ws = new WebSocket(url);
      ws.onopen = function () {
        delay = 500;
        text(live, "Live");
        if (live) live.className = "live on";
        subscriptions.forEach(function (params) {
          api.send({ method: "subscribe", params: params });
        });
      };
      ws.onmessage = function (ev) {
        var msg;
        try {
          msg = parse(ev.data);
        } catch (e) {
          return;
        }
        if (msg.channel && msg.data) onMessage(msg, api);
      };
      ws.onclose = function () {
        text(live, "Reconnecting…");
        if (live) live.className = "live off";
        setTimeout(open, delay);
        delay = Math.min(delay * 2, 10000);
      };
    }
    open();
    return api;
  }

  function changeText(pct) {
    var n = Number(pct);
    var sign = n > 0 ? "+" : "";
    return [sign + fixed(pct, 2) + " %", n > 0 ? "up" : n < 0 ? "down" : "flat"];
  }

  // ---- the markets board ---------------------------------------------------------------------
  function board(table) {
    var rows = {};
    table.querySelectorAll("tbody tr[data-symbol]").forEach(function (tr) {
      rows[tr.getAttribute("data-symbol")] = tr;
    });
    connect([{ channel: "ticker", symbol: Object.keys(rows) }], function (msg) {
      if (msg.channel !== "ticker") return;
      msg.data.forEach(function (t) {
        var tr = rows[t.symbol];
        if (!tr) return;
        var pd = Number(tr.getAttribute("data-pd"));
        var ld = Number(tr.getAttribute("data-ld"));
        var last = tr.querySelector(".last .v");
        var before = last.textContent;
        text(last, fixed(t.last, pd));
        var c = changeText(t.change_pct);
        var cell = tr.querySelector(".change");
        text(cell, c[0]);
        cell.className = "num change " + c[1];
        text(tr.querySelector(".volume .v"), fixed(t.volume, ld));
        if (msg.type === "update" && before !== last.textContent) flash(tr);
      });
    });
  }
  function flash(el) {
    el.classList.remove("flash");
    void el.offsetWidth;
    el.classList.add("flash");
  }

  // ---- a pair's page ---------------------------------------------------------------------------
  function market(root) {
    var symbol = root.getAttribute("data-symbol");
    var pd = Number(root.getAttribute("data-pd"));
    var ld = Number(root.getAttribute("data-ld"));
    var interval = Number(root.getAttribute("data-interval"));
    var book = { bids: new Map(), asks: new Map(), depth: 100 };
    var status = document.getElementById("book-status");
    var verified = 0;
    var mismatches = 0;
    var chart = candles(document.getElementById("chart"), pd, interval);

    var api = connect(
      [
        { channel: "ticker", symbol: [symbol] },
        { channel: "book", symbol: [symbol], depth: book.depth },
        { channel: "trade", symbol: [symbol], snapshot: true },
        { channel: "ohlc", symbol: [symbol], interval: interval },
      ],
      function (msg, api) {
        var d = msg.data;
        if (msg.channel === "ticker") quote(d[0]);
        else if (msg.channel === "book") onBook(msg.type, d[0], api);
        else if (msg.channel === "trade") trades(msg.type, d);
        else if (msg.channel === "ohlc" && chart) chart.apply(msg.type, d);
      }
    );

    function quote(t) {
      if (!t || t.symbol !== symbol) return;
      text(document.getElementById("q-last"), fixed(t.last, pd));
      var c = changeText(t.change_pct);
      var el = document.getElementById("q-change");
      text(el, c[0]);
      el.className = c[1];
      text(document.getElementById("q-bid"), fixed(t.bid, pd));
      text(document.getElementById("q-ask"), fixed(t.ask, pd));
      text(document.getElementById("q-high"), fixed(t.high, pd));
      text(document.getElementById("q-low"), fixed(t.low, pd));
      text(document.getElementById("q-volume"), fixed(t.volume, ld));
    }

    function side(map, levels) {
      (levels || []).forEach(function (l) {
        var p = fixed(l.price, pd);
        if (Number(l.qty) === 0) map.delete(p);
        else map.set(p, l.qty);
      });
    }
    function sorted(map, desc) {
      var keys = Array.from(map.keys()).sort(function (a, b) {
        return desc ? Number(b) - Number(a) : Number(a) - Number(b);
      });
      keys.slice(book.depth).forEach(function (k) {
        map.delete(k);
      });
      return keys.slice(0, book.depth).map(function (k) {
        return [k, map.get(k)];
      });
    }
    // Kraken's checksum: the top 10 asks then the top 10 bids, price and qty at the pair's
    // precisions without the point and leading zeros, CRC32 of the concatenation.
    function checksum(asks, bids) {
      var s = "";
      asks.slice(0, 10).concat(bids.slice(0, 10)).forEach(function (l) {
        s += fixed(l[0], pd).replace(".", "").replace(/^0+/, "");
        s += fixed(l[1], ld).replace(".", "").replace(/^0+/, "");
      });
      return crc32(s);
    }
    function onBook(type, d, api) {
      if (!d || d.symbol !== symbol) return;
      if (type === "snapshot") {
        book.bids.clear();
        book.asks.clear();
      }
      side(book.bids, d.bids);
      side(book.asks, d.asks);
      var bids = sorted(book.bids, true);
      var asks = sorted(book.asks, false);
      if (checksum(asks, bids) !== Number(d.checksum)) {
        mismatches++;
        status.setAttribute("data-mismatches", String(mismatches));
        text(status, "Checksum mismatch: fetching the book again.");
        api.send({ method: "unsubscribe", params: { channel: "book", symbol: [symbol], depth: book.depth } });
        api.send({ method: "subscribe", params: { channel: "book", symbol: [symbol], depth: book.depth } });
        return;
      }
      verified++;
      status.setAttribute("data-verified", String(verified));
      text(status, "Live; every update checked against the exchange's checksum (" + verified + " so far).");
      ladder(asks, bids);
      if (bids.length) text(document.getElementById("q-bid"), bids[0][0]);
      if (asks.length) text(document.getElementById("q-ask"), asks[0][0]);
      depthChart(document.getElementById("depth"), asks, bids);
    }

    // Levels with their running total (best first).
    function ladderSide(levels) {
      var total = 0;
      return levels.map(function (l) {
        total += Number(l[1]);
        return [l[0], l[1], total];
      });
    }
    function ladder(asks, bids) {
      var a = ladderSide(asks.slice(0, 12));
      var b = ladderSide(bids.slice(0, 12));
      var max = Math.max(a.length ? a[a.length - 1][2] : 0, b.length ? b[b.length - 1][2] : 0) || 1;
      fill(document.getElementById("asks"), a.slice().reverse(), "ask", max);
      fill(document.getElementById("bids"), b, "bid", max);
      var spread = document.querySelector("#spread td");
      if (asks.length && bids.length) text(spread, "Spread " + (Number(asks[0][0]) - Number(bids[0][0])).toFixed(pd));
    }
    function fill(tbody, rows, cls, max) {
      while (tbody.rows.length > rows.length) tbody.deleteRow(-1);
      rows.forEach(function (r, i) {
        var tr = tbody.rows[i];
        if (!tr) {
          tr = tbody.insertRow(-1);
          tr.className = cls;
          var b = document.createElement("button");
          b.type = "button";
          b.className = "px";
          tr.insertCell(-1).appendChild(b);
          tr.insertCell(-1);
          tr.insertCell(-1);
          for (var c = 0; c < 3; c++) tr.cells[c].className = "num";
        }
        var button = tr.cells[0].firstChild;
        button.setAttribute("data-price", r[0]);
        text(button, r[0]);
        text(tr.cells[1], fixed(r[1], ld));
        text(tr.cells[2], r[2].toFixed(Math.min(ld, 8)));
        tr.style.setProperty("--w", ((r[2] / max) * 100).toFixed(1) + "%");
      });
    }

    function trades(type, list) {
      var tbody = document.querySelector("#trades tbody");
      if (type === "snapshot") tbody.textContent = "";
      list.forEach(function (t) {
        if (t.symbol !== symbol) return;
        var tr = tbody.insertRow(0);
        tr.className = t.side === "buy" ? "buy" : "sell";
        tr.insertCell(-1).textContent = String(t.timestamp).slice(11, 19);
        var p = tr.insertCell(-1);
        p.className = "num";
        p.textContent = fixed(t.price, pd);
        var q = tr.insertCell(-1);
        q.className = "num";
        q.textContent = fixed(t.qty, ld);
      });
      while (tbody.rows.length > 30) tbody.deleteRow(-1);
    }

    // A ladder price fills the ticket's price field (mouse or keyboard: the prices are buttons).
    document.addEventListener("click", function (ev) {
      var b = ev.target.closest("button.px");
      var input = document.getElementById("t-price");
      if (!b || !input) return;
      input.value = b.getAttribute("data-price");
      input.focus();
    });
    window.addEventListener("resize", function () {
      depthChart(document.getElementById("depth"), sorted(book.asks, false), sorted(book.bids, true));
    });
  }

  // ---- the depth chart: cumulative bids (left) and asks (right) on a canvas ---------------------
  function depthChart(canvas, asks, bids) {
    if (!canvas || !canvas.getContext) return;
    var ratio = window.devicePixelRatio || 1;
    var w = canvas.clientWidth || 600;
    var h = canvas.clientHeight || 220;
    if (canvas.width !== Math.round(w * ratio)) canvas.width = Math.round(w * ratio);
    if (canvas.height !== Math.round(h * ratio)) canvas.height = Math.round(h * ratio);
    var g = canvas.getContext("2d");
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.clearRect(0, 0, w, h);
    if (!asks.length || !bids.length) return;
    var cum = function (levels) {
      var t = 0;
      return levels.map(function (l) {
        t += Number(l[1]);
        return [Number(l[0]), t];
      });
    };
    var b = cum(bids);
    var a = cum(asks);
    var lo = b[b.length - 1][0];
    var hi = a[a.length - 1][0];
    var mid = (a[0][0] + b[0][0]) / 2;
    // Symmetric around the middle, as far as the shorter side reaches (a far-away order does not
    // squeeze the rest into a corner; the canvas clips what lies beyond).
    var span = Math.min(mid - lo, hi - mid) || Math.max(mid - lo, hi - mid) || 1;
    lo = mid - span;
    hi = mid + span;
    var within = function (pts, inside) {
      var t = 0;
      pts.forEach(function (p) {
        if (inside(p[0])) t = p[1];
      });
      return t;
    };
    var top =
      Math.max(
        within(b, function (p) { return p >= mid - span; }),
        within(a, function (p) { return p <= mid + span; })
      ) || 1;
    var pad = 18;
    var x = function (p) {
      return ((p - lo) / (hi - lo)) * w;
    };
    var y = function (v) {
      return h - pad - (Math.min(v, top) / top) * (h - pad - 18);
    };
    var area = function (pts, from, stroke, fillStyle) {
      g.beginPath();
      g.moveTo(x(from), h - pad);
      var prev = h - pad;
      pts.forEach(function (p) {
        g.lineTo(x(p[0]), prev);
        prev = y(p[1]);
        g.lineTo(x(p[0]), prev);
      });
      g.lineTo(x(pts[pts.length - 1][0]), h - pad);
      g.closePath();
      g.fillStyle = fillStyle;
      g.fill();
      g.strokeStyle = stroke;
      g.lineWidth = 1.5;
      g.stroke();
    };
    area(b, b[0][0], "#0f7b3f", "rgba(15,123,63,0.18)");
    area(a, a[0][0], "#c0262d", "rgba(192,38,45,0.18)");
    g.fillStyle = "#5f6173";
    g.font = "11px system-ui, sans-serif";
    var pd = Number(document.getElementById("market").getAttribute("data-pd"));
    g.textAlign = "left";
    g.fillText(lo.toFixed(pd), 2, h - 4);
    g.textAlign = "center";
    g.fillText(mid.toFixed(pd), w / 2, h - 4);
    g.textAlign = "right";
    g.fillText(hi.toFixed(pd), w - 2, h - 4);
    g.textAlign = "left";
    g.fillText(String(Number(top.toPrecision(4))) + " cumulative", 2, 11);
  }

  // ---- candles and volume (lightweight-charts) -------------------------------------------------
  function candles(el, pd, interval) {
    var LWC = window.LightweightCharts;
    if (!el || !LWC) return null;
    el.textContent = "";
    var chart = LWC.createChart(el, {
      autoSize: true,
      layout: { attributionLogo: false, background: { type: "solid", color: "#ffffff" }, textColor: "#1d1d2b" },
      grid: { vertLines: { color: "#eeeef4" }, horzLines: { color: "#eeeef4" } },
      timeScale: { timeVisible: interval < 1440, secondsVisible: false, borderColor: "#dcdce6" },
      rightPriceScale: { borderColor: "#dcdce6" },
    });
    var series = chart.addSeries(LWC.CandlestickSeries, {
      upColor: "#0f7b3f",
      downColor: "#c0262d",
      wickUpColor: "#0f7b3f",
      wickDownColor: "#c0262d",
      borderVisible: false,
      priceFormat: { type: "price", precision: pd, minMove: Math.pow(10, -pd) },
    });
    series.priceScale().applyOptions({ scaleMargins: { top: 0.08, bottom: 0.28 } });
    var volume = chart.addSeries(LWC.HistogramSeries, { priceFormat: { type: "volume" }, priceScaleId: "volume" });
    chart.priceScale("volume").applyOptions({ scaleMargins: { top: 0.78, bottom: 0 } });
    var count = 0;
    var last = 0;
    var bars = function (c) {
      var time = Math.floor(Date.parse(c.interval_begin) / 1000);
      var up = Number(c.close) >= Number(c.open);
      return [
        { time: time, open: Number(c.open), high: Number(c.high), low: Number(c.low), close: Number(c.close) },
        { time: time, value: Number(c.volume), color: up ? "rgba(15,123,63,0.45)" : "rgba(192,38,45,0.45)" },
      ];
    };
    return {
      apply: function (type, list) {
        list = list.filter(function (c) {
          return Number(c.interval) === interval;
        });
        if (type === "snapshot") {
          var all = list.map(bars).sort(function (x, y) {
            return x[0].time - y[0].time;
          });
          series.setData(all.map(function (b) { return b[0]; }));
          volume.setData(all.map(function (b) { return b[1]; }));
          count = all.length;
          last = count ? all[count - 1][0].time : 0;
        } else {
          list.forEach(function (c) {
            var b = bars(c);
            if (b[0].time < last) return;
            if (b[0].time > last) count++;
            last = b[0].time;
            series.update(b[0]);
            volume.update(b[1]);
          });
        }
        el.setAttribute("data-candles", String(count));
      },
    };
  }

  var boardTable = document.getElementById("board");
  if (boardTable) board(boardTable);
  var root = document.getElementById("market");
  if (root) market(root);
})();
