// What one wake-up of a sleeping process costs on this machine, on the same vCPU and on another: a byte passed
// back and forth through two pipes after 5 ms of sleep, 400 times; prints the median round trip (two wake-ups).
// gcc -O2 -o /tmp/wake tests/bench/wake-latency.c && /tmp/wake 0 1 && /tmp/wake 0 0   (README: Data plane)
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sched.h>
#include <time.h>
#include <sys/wait.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec*1e6+t.tv_nsec/1e3;}
static void pin(int c){cpu_set_t s;CPU_ZERO(&s);CPU_SET(c,&s);sched_setaffinity(0,sizeof s,&s);}
int cmp(const void*a,const void*b){double x=*(double*)a,y=*(double*)b;return x<y?-1:x>y;}
int main(int argc,char**argv){
  int c1=atoi(argv[1]),c2=atoi(argv[2]),n=400; int p[2],q[2]; pipe(p); pipe(q); char b=0;
  if(fork()==0){pin(c2); for(int i=0;i<n;i++){read(p[0],&b,1); write(q[1],&b,1);} _exit(0);}
  pin(c1); double *r=malloc(n*sizeof(double));
  for(int i=0;i<n;i++){ usleep(5000); double t=now(); write(p[1],&b,1); read(q[0],&b,1); r[i]=now()-t; }
  wait(0); qsort(r,n,sizeof(double),cmp); printf("cpus %d,%d: median round trip %.1f us (p10 %.1f, p90 %.1f)\n",c1,c2,r[n/2],r[n/10],r[n*9/10]); }
