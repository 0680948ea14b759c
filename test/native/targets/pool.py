# Test target: a multiprocessing.Pool of 2 workers squaring 200 numbers, writing "ready PID",
# progress, and "result SUM" (2646700) to OUT. The pool shares pipes and named semaphores
# (MAP_SHARED of unlinked /dev/shm files) between its processes.
import multiprocessing as mp, time, sys, os
def work(i):
    time.sleep(0.02)
    return i * i
if __name__ == '__main__':
    out = open(sys.argv[1], 'a', buffering=1)
    with mp.Pool(2) as pool:
        out.write(f"ready {os.getpid()}\n")
        total = 0
        for n, r in enumerate(pool.imap(work, range(200))):
            total += r
            if n % 20 == 0: out.write(f"progress {n}\n")
        out.write(f"result {total}\n")
