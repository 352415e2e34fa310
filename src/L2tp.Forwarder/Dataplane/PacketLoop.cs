using L2tp.Native;
using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace L2tp.Forwarder.Dataplane;

/// <summary>
/// A thread waiting on an epoll set of fds and handling the ready ones in batches. The control thread adds and
/// removes fds and swaps the map; <see cref="Quiesce"/> lets it know a removed fd is no longer in use before closing it.
/// </summary>
internal abstract unsafe class PacketLoop : IDisposable
{
    private readonly int _epoll;
    private readonly int _wake;
    private readonly Thread _thread;
    private volatile bool _stop;
    private int _busy;
    private long _epoch;
    private readonly Func<DataplaneMap> _map;

    protected PacketLoop(string name, Func<DataplaneMap> map)
    {
        _map = map;
        _epoll = Sys.Check(epoll_create1(EPOLL_CLOEXEC), "epoll_create1");
        _wake = Sys.Check(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), "eventfd");
        Add(_wake);
        _thread = new Thread(Run) { Name = name, IsBackground = true };
    }

    public void Start() => _thread.Start();

    public void Add(int fd)
    {
        epoll_event ev = default;
        ev.events = EPOLLIN;
        ev.data.fd = fd;
        Sys.Check(epoll_ctl(_epoll, EPOLL_CTL_ADD, fd, &ev), "epoll_ctl(ADD)");
    }

    public void Remove(int fd)
    {
        epoll_event ev = default;
        epoll_ctl(_epoll, EPOLL_CTL_DEL, fd, &ev);
    }

    /// <summary>Returns once the loop is not inside an iteration that began before this call.</summary>
    public void Quiesce()
    {
        long start = Volatile.Read(ref _epoch);
        var spin = new SpinWait();
        while (Volatile.Read(ref _busy) == 1 && Volatile.Read(ref _epoch) == start && _thread.IsAlive)
            spin.SpinOnce();
    }

    private void Run()
    {
        const int MaxEvents = 64;
        var events = stackalloc epoll_event[MaxEvents];
        while (!_stop)
        {
            Volatile.Write(ref _busy, 0);
            Interlocked.Increment(ref _epoch);
            int n = epoll_wait(_epoll, events, MaxEvents, -1);
            // A full fence: the map read below must not be served from before the busy flag is visible.
            Interlocked.Exchange(ref _busy, 1);
            if (n < 0)
            {
                if (errno == EINTR)
                    continue;
                Log.Error($"{_thread.Name}: epoll_wait failed: {new ErrnoException(errno, "epoll_wait").Message}");
                return;
            }
            var map = _map();
            for (int i = 0; i < n; i++)
            {
                int fd = events[i].data.fd;
                if (fd == _wake)
                    continue;
                try
                {
                    Handle(map, fd, events[i].events);
                }
                catch (Exception e)
                {
                    // The data plane must survive anything one packet or fd throws at it.
                    Log.Error($"{_thread.Name}: fd {fd}: {e}");
                }
            }
        }
    }

    /// <summary>Drains a ready fd (bounded, so one busy fd cannot starve the others); events are epoll's for it.</summary>
    protected abstract void Handle(DataplaneMap map, int fd, int events);

    public void Dispose()
    {
        _stop = true;
        ulong one = 1;
        write(_wake, &one, 8);
        if (_thread.IsAlive)
            _thread.Join(2000);
        Sys.Close(_wake);
        Sys.Close(_epoll);
    }
}
