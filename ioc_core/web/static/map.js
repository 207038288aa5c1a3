// The operations map: wards as polygons, incidents as counted cells or single markers,
// reloaded for the visible box whenever the view or a filter changes. Settings come from
// data attributes, so the page needs no inline script.
(function () {
  "use strict";

  function start() {
    var element = document.getElementById("map");
    if (!element || typeof L === "undefined" || element.dataset.ready) {
      return;
    }
    element.dataset.ready = "yes";
    var data = element.dataset;
    // SVG, not canvas: each marker is an element a person (and a test) can click and inspect.
    var map = L.map(element).setView(
      [parseFloat(data.lat), parseFloat(data.lon)], parseInt(data.zoom, 10));
    if (data.tiles) {
      L.tileLayer(data.tiles, { maxZoom: 19 }).addTo(map);
    }
    var wards = L.geoJSON(null, {
      style: { color: "#0b5cad", weight: 1.5, fillOpacity: 0.05 },
      onEachFeature: function (feature, layer) {
        layer.bindTooltip(feature.properties.name_vi, { sticky: true });
      },
    }).addTo(map);
    var incidents = L.layerGroup().addTo(map);
    var filters = document.getElementById("map-filters");
    var pending = null;

    fetch(data.areas, { headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (geojson) {
        if (geojson) {
          wards.addData(geojson);
        }
      });

    function query() {
      var b = map.getBounds();
      var params = new URLSearchParams(new FormData(filters));
      params.set("bbox", [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]
        .map(function (v) { return v.toFixed(6); }).join(","));
      params.set("zoom", String(map.getZoom()));
      Array.from(params.keys()).forEach(function (key) {
        if (params.get(key) === "") {
          params.delete(key);
        }
      });
      return data.incidents + "?" + params.toString();
    }

    function marker(feature, latlng) {
      var p = feature.properties;
      if (p.cluster) {
        var size = 24 + Math.min(24, Math.round(Math.log(p.count + 1) * 5));
        return L.marker(latlng, {
          icon: L.divIcon({
            className: "cluster",
            html: "<span>" + p.count + "</span>",
            iconSize: [size, size],
          }),
          title: String(p.count),
        }).on("click", function () {
          map.setView(latlng, Math.min(map.getZoom() + 2, 18));
        });
      }
      var link = document.createElement("a");
      link.href = "/incidents/" + feature.id;
      link.textContent = p.code + " · " + p.title;
      var popup = document.createElement("div");
      popup.appendChild(link);
      popup.appendChild(document.createElement("br"));
      popup.appendChild(document.createTextNode(p.status_label));
      if (p.due_label) {
        popup.appendChild(document.createElement("br"));
        popup.appendChild(document.createTextNode(p.due_label));
      }
      return L.circleMarker(latlng, {
        radius: 7,
        weight: 2,
        className: "incident status-" + p.status + (p.overdue ? " overdue" : ""),
      }).bindPopup(popup);
    }

    function reload() {
      if (pending) {
        pending.abort();
      }
      pending = new AbortController();
      fetch(query(), { headers: { Accept: "application/json" }, signal: pending.signal })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (geojson) {
          if (!geojson) {
            return;
          }
          incidents.clearLayers();
          L.geoJSON(geojson, { pointToLayer: marker }).eachLayer(function (layer) {
            incidents.addLayer(layer);
          });
          element.dataset.loaded = String(geojson.features.length);
        })
        .catch(function () {});
    }

    map.on("moveend", reload);
    filters.addEventListener("change", reload);
    reload();
  }

  document.addEventListener("DOMContentLoaded", start);
  document.addEventListener("htmx:afterSettle", start);
  if (document.readyState !== "loading") {
    start();
  }
})();
