// How Skydive's web UI v2 draws Dragonflow's nodes: icons, labels, layers, groups, panels.
//
// Skydive's UI picks a node's icon from its Type among Skydive's own types, so every
// Dragonflow node would get its generic icon, and a node without a name its UUID. The UI
// takes a configuration (its `?config=URL` parameter: a script whose value is the config),
// and this file is one: the analyzer's page loads it before the UI and hands it over, and it
// also works as `?config=/static/js/skydive-config.js`. Only nodes that dragonscope publishes
// (Manager "dragonflow" or "dragonscope") are touched; other publishers' nodes keep the UI's
// defaults. Icons are Font Awesome 5 glyphs (the UI ships the font); classes reuse the UI's
// own palette (host, bridge, interface, netns).
window.dragonscopeSkydiveConfig = (function () {
  const MANAGERS = new Set(["dragonflow", "dragonscope"]);

  // Layers, top to bottom: Skydive's own (the UI fixes their titles when it starts, before
  // any configuration arrives), the nearest in meaning. A child is never above its parent.
  const PHY_HOSTS = 5020; // chassis and their Dragonflow processes
  const VIRT_NAMESPACES = 7010; // tenants: what isolates resources
  const VIRT_BRIDGES = 7040; // networks and routers
  const VIRT_NET = 7050; // subnets, floating IPs, groups, policies, chains, BGP
  const VIRT_PORTS = 7060; // ports of networks and routers
  const NOT_CLASSIFIED = 20000; // references to objects that do not exist

  // Type: [glyph, what it is (labels and groups), layer, Skydive class for the colours].
  const TYPES = {
    chassis: ["\uf233", "chassis", PHY_HOSTS, "host"],
    service: ["\uf013", "service", PHY_HOSTS, ""],
    publisher: ["\uf09e", "publisher", PHY_HOSTS, ""],
    listener: ["\uf025", "listener", PHY_HOSTS, ""],
    "dragonscope-collector": ["\uf1c0", "collector", NOT_CLASSIFIED, ""],
    tenant: ["\uf0c0", "tenant", VIRT_NAMESPACES, "netns"],
    lswitch: ["\uf6ff", "network", VIRT_BRIDGES, "bridge"],
    lrouter: ["\uf074", "router", VIRT_BRIDGES, "bridge"],
    floatingip: ["\uf0ac", "floating IP", VIRT_NET, ""],
    secgroup: ["\uf3ed", "security group", VIRT_NET, ""],
    qospolicy: ["\uf3fd", "QoS policy", VIRT_NET, ""],
    sfc_portchain: ["\uf0c1", "port chain", VIRT_NET, ""],
    sfc_portpairgroup: ["\uf247", "port pair group", VIRT_NET, ""],
    sfc_portpair: ["\uf337", "port pair", VIRT_NET, ""],
    sfc_flowclassifier: ["\uf0b0", "flow classifier", VIRT_NET, ""],
    bgp_speaker: ["\uf519", "BGP speaker", VIRT_NET, ""],
    bgp_peer: ["\uf2b5", "BGP peer", VIRT_NET, ""],
    activeport: ["\uf140", "active port", VIRT_NET, ""],
    vip: ["\uf05b", "virtual IP", VIRT_NET, ""],
    migration: ["\uf4df", "migration", VIRT_NET, ""],
    lsubnet: ["\uf5fd", "subnet", VIRT_NET, ""],
    lport: ["\uf1e6", "port", VIRT_PORTS, "interface"],
    lrouter_port: ["\uf35a", "router port", VIRT_PORTS, "interface"],
    switch_port: ["\uf0e8", "switch port", VIRT_PORTS, "interface"],
    missing: ["\uf128", "missing reference", NOT_CLASSIFIED, ""],
  };
  const OTHER = ["\uf1b2", "object", VIRT_NET, ""]; // a Dragonflow app's own table
  const VM_PORT = "\uf108"; // a port that a VM plugs into (device owner compute:...)
  const PROBLEMS = { text: "\uf071", fill: "#e65100", stroke: "#fff" };
  // Neutron device owners, as the role a port plays.
  const ROLES = {
    "network:dhcp": "DHCP",
    "network:router_gateway": "gateway",
    "network:router_interface": "router if",
    "network:floatingip": "FIP",
  };
  const LABEL_SIZE = 28; // the UI cuts names at 24, too short for "missing secgroup 1234abcd"
  const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}/i;

  // Skydive's own defaults, for the hooks whose result replaces the UI's instead of refining it.
  const skydive = () => window.App && window.App.config && window.App.config.default;

  const ours = (data) => Boolean(data) && MANAGERS.has(data.Manager);

  // The Dragonflow node a UI node stands for: itself, or for a group of siblings the UI made
  // (its data is only a Name and a Type), its first member.
  function member(node) {
    if (ours(node.data)) return node;
    if (node.data.Manager === undefined && node.children && node.children.length) {
      const first = node.children[0];
      if (ours(first.data)) return first;
    }
    return null;
  }

  const typeOf = (data) => TYPES[data.Type] || OTHER;
  const short = (id) => (UUID.test(id) ? id.slice(0, 8) : id);
  const address = (data) => {
    const all = [].concat(data.IPV4 || [], data.IPV6 || []);
    return all.length ? String(all[0]).split("/")[0] : "";
  };

  // The node's ID when its Name is only that ID (the object has no name): a UUID, or a
  // tenant's project ID. Chassis are named by their host name, which is their ID too.
  function bareId(data) {
    const ids = [data.Dragonflow && data.Dragonflow.ID, data.Type === "tenant" && data.Tenant];
    return ids.includes(data.Name) && UUID.test(data.Name) ? data.Name : null;
  }

  // A readable label: the name, or what identifies an unnamed object to an operator.
  function label(data) {
    if (data.Type === "missing" && data.Missing) {
      return `missing ${data.Missing.Table} ${short(data.Missing.ID || data.Name)}`;
    }
    const id = bareId(data);
    if (!id) return data.Name;
    switch (data.Type) {
      case "lport": {
        const role = ROLES[data.DeviceOwner];
        const where = address(data) || data.MAC || short(id);
        return role ? `${role} ${where}` : where;
      }
      case "lrouter_port":
        return (data.IPV4 || data.IPV6 || [data.MAC || short(id)])[0];
      case "floatingip":
        return `FIP ${address(data) || short(id)}`;
      case "activeport":
        return `active ${address(data) || short(id)}`;
      case "service":
        return (data.Dragonflow && data.Dragonflow.binary) || `service ${short(id)}`;
      default:
        return `${typeOf(data)[1]} ${short(id)}`;
    }
  }

  const truncate = (text, size) => (text.length > size ? text.substring(0, size) + "." : text);

  function groupName(data) {
    const what = typeOf(data)[1];
    let plural = what + "s";
    if (what.endsWith("s")) plural = what;
    else if (what.endsWith("y")) plural = what.slice(0, -1) + "ies";
    if (data.Type !== "lport") return plural;
    return data.Chassis ? `${plural} on ${data.Chassis}` : `unbound ${plural}`;
  }

  return {
    nodeAttrs(attrs, node) {
      const df = member(node);
      if (!df) return attrs;
      const [glyph, , weight, look] = typeOf(df.data);
      const group = df !== node;
      const owner = String(df.data.DeviceOwner || "");
      const vm = df.data.Type === "lport" && owner.startsWith("compute:");
      return Object.assign({}, attrs, {
        classes: [df.data.Type, look].filter(Boolean),
        name: group ? node.data.Name : truncate(label(node.data), LABEL_SIZE),
        icon: vm && !group ? VM_PORT : glyph,
        href: "",
        iconClass: "",
        weight,
        badges: !group && node.data.Problems ? attrs.badges.concat([PROBLEMS]) : attrs.badges,
      });
    },

    nodeSortFnc(a, b) {
      const text = (node) => (ours(node.data) ? label(node.data) : node.data.Name);
      return text(a).localeCompare(text(b));
    },

    nodeTabTitle(node) {
      return ours(node.data) ? truncate(label(node.data), 16) : skydive().nodeTabTitle(node);
    },

    // Siblings group by type; a network's ports by the chassis they are bound to.
    groupType(node) {
      if (!ours(node.data)) return skydive().groupType(node);
      const type = node.data.Type;
      return type === "lport" ? `${type}@${node.data.Chassis || ""}` : type;
    },

    groupName(node) {
      return ours(node.data) ? groupName(node.data) : skydive().groupName(node);
    },

    // Captures and injections are not Dragonflow's business (the analyzer answers 405);
    // the node can be opened in dragonscope's own UI instead.
    nodeMenu(items, node) {
      if (!ours(node.data)) return items;
      const open = {
        class: "",
        text: "Open in dragonscope",
        disabled: false,
        callback: () => window.open("/#sel=" + encodeURIComponent(node.id), "_blank"),
      };
      return [open].concat(items.map((item) => Object.assign({}, item, { disabled: true })));
    },

    nodeDataFields(fields) {
      return fields.concat([
        { field: "Neutron", title: "Neutron", expanded: true, icon: "\uf0c2" },
        { field: "Dragonflow", title: "Dragonflow (NB object)", expanded: false, icon: "\uf1c0" },
        { field: "Problems", title: "Problems", expanded: true, icon: "\uf071" },
      ]);
    },
  };
})();
