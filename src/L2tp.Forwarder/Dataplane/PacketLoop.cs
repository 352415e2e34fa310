using L2tp.Native;
using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace L2tp.Forwarder.Dataplane;

/// <summary>
/// An epoll set of fds whose ready ones are handled in batches, on a thread of its own or on the thread of a host loop
/// (one thread for both directions: a frame written to a TAP is often answered at once, and the host then reads the
/// answer without sleeping and waking again). The control thread adds and removes fds and swaps the map;
/// <see cref="Quiesce"/> lets it know a removed fd is no longer in use before closing it.
/// </summary>
internal abstract unsafe class PacketLoop : IDisposable
{
    private const int MaxEvents = 64;
    private readonly int _epoll;
    private readonly int _wake;
    private readonly Thread? _thread;
    private readonly string _name;
    private readonly PacketLoop? _host;
    private PacketLoop? _guest;
    private volatile bool _stop;
    private int _busy;
    private long _epoch;
    private readonly Func<DataplaneMap> _map;

    /// <summary>A loop with its own thread, or (with <paramref name="host"/>) one whose fds the host's thread handles.</summary>
    protected PacketLoop(string name, Func<DataplaneMap> map, PacketLoop? host = null)
    {
        _name = name;
        _map = map;
        _host = host;
        _epoll = Sys.Check(epoll_create1(EPOLL_CLOEXEC), "epoll_create1");
        _wake = Sys.Check(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), "eventfd");
        Add(_wake);
        if (host is null)
        {
            _thread = new Thread(Run) { Name = name, IsBackground = true };
        }
        else
        {
            // An epoll fd is itself pollable: readable while any fd in its set is ready.
            if (host._guest is not null)
                throw new InvalidOperationException($"{host._name} already hosts a loop");
            host._guest = this;
            host.Add(_epoll);
        }
    }

    /// <summary>Starts the loop's thread; a hosted loop runs on its host's.</summary>
    public void Start() => _thread?.Start();

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
        if (_host is not null)
        {
            _host.Quiesce();
            return;
        }
        long start = Volatile.Read(ref _epoch);
        var spin = new SpinWait();
        while (Volatile.Read(ref _busy) == 1 && Volatile.Read(ref _epoch) == start && _thread!.IsAlive)
            spin.SpinOnce();
    }

    private void Run()
    {
        Daemon.NameThread(_name);
        var events = stackalloc epoll_event[MaxEvents];
        var guestEvents = stackalloc epoll_event[MaxEvents];
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
                Log.Error($"{_name}: epoll_wait failed: {new ErrnoException(errno, "epoll_wait").Message}");
                return;
            }
            var map = _map();
            for (int i = 0; i < n; i++)
            {
                int fd = events[i].data.fd;
                if (fd == _wake)
                    continue;
                if (_guest is { } guest && fd == guest._epoll)
                {
                    guest.HandleReady(map, guestEvents);
                    continue;
                }
                HandleOne(map, fd, events[i].events);
            }
        }
    }

    /// <summary>Handles what a hosted loop has ready now, on the host's thread (epoll_wait without waiting).</summary>
    private void HandleReady(DataplaneMap map, epoll_event* events)
    {
        int n = epoll_wait(_epoll, events, MaxEvents, 0);
        for (int i = 0; i < n; i++)
        {
            if (events[i].data.fd != _wake)
                HandleOne(map, events[i].data.fd, events[i].events);
        }
    }

    private void HandleOne(DataplaneMap map, int fd, int events)
    {
        try
        {
            Handle(map, fd, events);
        }
        catch (Exception e)
        {
            // The data plane must survive anything one packet or fd throws at it.
            Log.Error($"{_name}: fd {fd}: {e}");
        }
    }

    /// <summary>Drains a ready fd (bounded, so one busy fd cannot starve the others); events are epoll's for it.</summary>
    protected abstract void Handle(DataplaneMap map, int fd, int events);

    /// <summary>Stops the thread (a host stops its guest's work with its own); dispose a host before its guest.</summary>
    public void Dispose()
    {
        _stop = true;
        ulong one = 1;
        write(_wake, &one, 8);
        if (_thread is { IsAlive: true })
            _thread.Join(2000);
        Sys.Close(_wake);
        Sys.Close(_epoll);
    }
}
