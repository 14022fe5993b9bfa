// 数据概览: draws the dashboard's charts with ECharts from the JSON the page points at.
//
// The element #dashboard carries `data-source` (the period's numbers and labels, from
// /console/dashboard/data.json); every `[data-chart]` inside it is one chart, by series name.
// Nothing here writes inline styles or markup with style attributes (the console's CSP forbids
// them): the tooltip is plain text lines, styled by dashboard.css.
"use strict";

(() => {
  const charts = new Set();

  function escapeText(text) {
    const span = document.createElement("span");
    span.textContent = String(text);
    return span.innerHTML;
  }

  function formatNumber(value) {
    if (value === null || value === undefined || value === "-") return "—";
    return Number(value).toLocaleString("zh-CN");
  }

  // The tooltip: the day, then one "name: value" line per series, numbers in full.
  function tooltip(params) {
    const items = Array.isArray(params) ? params : [params];
    if (items.length === 0) return "";
    const lines = [escapeText(items[0].axisValue)];
    for (const item of items) {
      lines.push(`${escapeText(item.seriesName)}：${escapeText(formatNumber(item.value))}`);
    }
    return lines.join("<br>");
  }

  function option(days, chart) {
    const twoAxes = chart.series.some((s) => s.axis === 1);
    const yAxis = [{ type: "value", minInterval: 1 }];
    if (twoAxes) yAxis.push({ type: "value", minInterval: 1, splitLine: { show: false } });
    return {
      animation: false,
      grid: { left: 56, right: twoAxes ? 56 : 24, top: 40, bottom: 32 },
      legend: { top: 0, type: "scroll" },
      tooltip: {
        trigger: "axis",
        confine: true,
        className: "dashboard-tooltip",
        formatter: tooltip,
      },
      xAxis: {
        type: "category",
        data: days,
        axisLabel: { formatter: (day) => day.slice(5) },
      },
      yAxis,
      series: chart.series.map((s) => ({
        name: s.name,
        type: s.type,
        data: s.data,
        yAxisIndex: twoAxes ? s.axis : 0,
        stack: chart.stack ? "total" : undefined,
        areaStyle: s.type === "line" && s.area ? {} : undefined,
        itemStyle: s.color ? { color: s.color } : undefined,
        lineStyle: s.color ? { color: s.color } : undefined,
        showSymbol: false,
        connectNulls: false,
        barMaxWidth: 18,
      })),
    };
  }

  function draw(root, data) {
    for (const box of root.querySelectorAll("[data-chart]")) {
      const chart = data.charts[box.getAttribute("data-chart")];
      if (!chart || box.getAttribute("data-drawn") === "yes") continue;
      box.textContent = "";
      const instance = window.echarts.init(box, null, { renderer: "canvas" });
      instance.setOption(option(data.days, chart));
      box.setAttribute("data-drawn", "yes");
      charts.add(instance);
    }
  }

  async function start(scope) {
    const root = scope && scope.id === "dashboard" ? scope : document.getElementById("dashboard");
    forgetRemoved();
    if (!root || !window.echarts) return;
    const source = root.getAttribute("data-source");
    if (!source || root.getAttribute("data-loading") === source) return;
    root.setAttribute("data-loading", source);
    const response = await fetch(source, { credentials: "same-origin" });
    if (!response.ok) return; // the boxes keep their "loading" text; the page's figures stand
    draw(root, await response.json());
  }

  // Charts whose boxes left the page (a period swapped in by htmx) are let go.
  function forgetRemoved() {
    for (const instance of charts) {
      if (instance.isDisposed() || !instance.getDom().isConnected) {
        if (!instance.isDisposed()) instance.dispose();
        charts.delete(instance);
      }
    }
  }

  window.addEventListener("resize", () => {
    forgetRemoved();
    for (const instance of charts) instance.resize();
  });

  // After htmx swaps a new period in, the charts of the old one are gone: draw the new ones.
  document.addEventListener("htmx:load", (event) => start(event.detail && event.detail.elt));
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", () => start(null));
  } else {
    start(null);
  }
})();
