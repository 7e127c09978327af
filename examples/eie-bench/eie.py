"""eie.py: EIE's published figures (Han et al., ISCA 2016) that dcc is
measured against, in one place: the nine benchmark layers of Table IV
(name, OUTxIN, weight density, activation density, published latency in
us) and Table II's power (mW) and area (um^2) of one PE by module.
Imported by energy.py, tools/calibrate_eie_pe.py and tests/py/test_energy.py."""

LAYERS = [("Alex-6", "4096x9216", 0.09, 0.351, 30.3), ("Alex-7", "4096x4096", 0.09, 0.353, 12.2),
          ("Alex-8", "1000x4096", 0.25, 0.375, 9.9), ("VGG-6", "4096x25088", 0.04, 0.183, 34.4),
          ("VGG-7", "4096x4096", 0.04, 0.375, 8.7), ("VGG-8", "1000x4096", 0.23, 0.411, 8.4),
          ("NT-We", "600x4096", 0.10, 1.0, 8.0), ("NT-Wd", "8791x600", 0.11, 1.0, 13.9),
          ("NT-LSTM", "2400x1201", 0.10, 1.0, 7.5)]
# Table II, one PE at 45 nm and 800 MHz: power (mW) and area (um^2) by module
TABLE2 = {"Act_queue": (0.112, 758), "PtrRead": (1.807, 121849), "SpmatRead": (4.955, 469412),
          "ArithmUnit": (1.162, 3110), "ActRW": (1.122, 18934)}
PE_MW, PE_UM2, FILLER_UM2, CLOCK_SHARE = 9.157, 638024, 23961, 0.2046
