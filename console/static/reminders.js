// 提醒 · 发送记录: draws the per-day delivery chart with ECharts, stacked by state.
//
// The chart box carries `data-chart-url` (JSON: days, and one series per state with its name)
// and `data-total-label` (the word for a day's total in the tooltip).
// The box says aria-busy="true" until the chart is drawn. The tooltip is plain text lines (the
// console's CSP forbids inline styles, which ECharts' default tooltip markup carries).
"use strict";

(() => {
  const COLOURS = {
    claimed: "#d97706",
    sending: "#2563eb",
    sent: "#047857",
    skipped: "#9ca3af",
    failed: "#b91c1c",
  };

  function escapeText(text) {
    const span = document.createElement("span");
    span.textContent = String(text);
    return span.innerHTML;
  }

  function tooltip(params, totalLabel) {
    const items = Array.isArray(params) ? params : [params];
    if (items.length === 0) return "";
    let total = 0;
    const lines = [escapeText(items[0].axisValue)];
    for (const item of items) {
      total += Number(item.value) || 0;
      lines.push(`${escapeText(item.seriesName)}：${escapeText(item.value)}`);
    }
    lines.push(`${escapeText(totalLabel)}：${total}`);
    return lines.join("<br>");
  }

  function draw(box, data) {
    box.textContent = "";
    const chart = window.echarts.init(box, null, { renderer: "canvas" });
    chart.setOption({
      animation: false,
      grid: { left: 48, right: 16, top: 40, bottom: 32 },
      legend: { top: 0 },
      tooltip: {
        trigger: "axis",
        axisPointer: { type: "shadow" },
        confine: true,
        className: "reminders-tooltip",
        formatter: (params) => tooltip(params, box.getAttribute("data-total-label") || ""),
      },
      xAxis: { type: "category", data: data.days, axisLabel: { formatter: (d) => d.slice(5) } },
      yAxis: { type: "value", minInterval: 1 },
      series: data.series.map((s) => ({
        name: s.name,
        type: "bar",
        stack: "deliveries",
        data: s.data,
        itemStyle: { color: COLOURS[s.state] },
        barMaxWidth: 28,
      })),
    });
    window.addEventListener("resize", () => chart.resize());
    box.setAttribute("aria-busy", "false");
  }

  async function start() {
    const box = document.getElementById("daily-chart");
    if (!box || !window.echarts) return;
    const response = await fetch(box.getAttribute("data-chart-url"), { credentials: "same-origin" });
    if (!response.ok) return;
    draw(box, await response.json());
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
