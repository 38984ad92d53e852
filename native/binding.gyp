{
  "targets": [
    {
      "target_name": "fairway_native",
      "sources": [
        "src/addon.cc",
        "src/errors.cc",
        "src/object.cc",
        "src/map.cc",
        "src/tc.cc",
        "src/cgroup.cc",
        "src/ringbuf.cc",
        "src/testrun.cc",
        "src/netns.cc",
        "src/netlink.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
      "cflags_cc!": ["-fno-exceptions"],
      "libraries": ["-lbpf", "-lelf", "-lz"]
    }
  ]
}
